// Keyboard shortcuts of the dialog and review pages: a accept, r reject, s skip,
// e edit (Ctrl+Enter saves the edit); a code's number picks it ("1" "0" is code 10).
// A file, not inline script, so the Content-Security-Policy can forbid inline script.
// Digits gather into a number: it is picked as soon as no other code's number starts
// with it, else after a short pause ("1" waits in case "10" is meant).
const PAUSE_MS = 700;
let digits = "";
let pending = null;
function pickCode(number) {
  digits = "";
  const el = document.getElementById("code-" + number);
  if (el) el.click();
}
function typeDigit(digit) {
  clearTimeout(pending);
  const numbers = [...document.querySelectorAll("[id^='code-']")].map((el) => el.id.slice(5));
  const typed = digits + digit;
  digits = numbers.some((n) => n.startsWith(typed)) ? typed : digit;
  const longer = numbers.some((n) => n !== digits && n.startsWith(digits));
  if (!longer) pickCode(digits);
  else pending = setTimeout(() => pickCode(digits), PAUSE_MS);
}
document.addEventListener("keydown", (event) => {
  const typing = ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName);
  if (typing) {
    if (event.key === "Enter" && event.ctrlKey && document.getElementById("edit")) {
      event.preventDefault(); document.getElementById("edit").click();
    }
    return;
  }
  const click = (id) => {
    const el = document.getElementById(id);
    if (el) { event.preventDefault(); el.click(); }
  };
  if (event.key === "a") click("accept");
  else if (event.key === "r") click("reject");
  else if (event.key === "s") click("skip");
  else if (event.key === "e") {
    const box = document.getElementById("correction");
    if (box) { event.preventDefault(); box.focus(); box.select(); }
  } else if (/^[0-9]$/.test(event.key)) {
    event.preventDefault(); typeDigit(event.key);
  }
});
