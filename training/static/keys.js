// Keyboard shortcuts of the dialog and review pages: a accept, r reject, s skip,
// e edit (Ctrl+Enter saves the edit), 0-9 pick a code. A file, not inline script,
// so the Content-Security-Policy can forbid inline script.
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
  } else if (/^[0-9]$/.test(event.key)) click("code-" + event.key);
});
