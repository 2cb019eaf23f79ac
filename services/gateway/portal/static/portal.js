// IBOK portal: small improvements only; every page works without this file.
"use strict";

// A meter reading is checked while it is typed: a number with at most three decimals, not
// below the last reading. The server checks again; this only tells the person sooner.
function parseReading(text) {
  const cleaned = text.trim().replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(cleaned)) return null;
  return cleaned;
}

function decimals(text) {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

function checkReading(input) {
  const message = document.getElementById(input.id + "-error");
  if (!message) return;
  let problem = "";
  const value = input.value.trim();
  if (value !== "") {
    const parsed = parseReading(value);
    if (parsed === null) {
      problem = input.dataset.messageNumber;
    } else if (decimals(parsed) > 3) {
      problem = input.dataset.messagePrecision;
    } else if (input.dataset.last !== "" && Number(parsed) < Number(input.dataset.last)) {
      problem = input.dataset.messageBelow;
    }
  }
  message.textContent = problem;
  const field = input.closest(".field");
  if (problem) {
    input.setAttribute("aria-invalid", "true");
    if (field) field.classList.add("field--error");
  } else {
    input.removeAttribute("aria-invalid");
    if (field) field.classList.remove("field--error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-last]")) {
    let timer = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => checkReading(input), 400);
    });
    input.addEventListener("blur", (event) => {
      // Leaving the field for its own submit button: the server checks it; a message appearing
      // now would move the button away under the pointer between press and release.
      const next = event.relatedTarget;
      if (next && next.form === input.form && next.type === "submit") return;
      checkReading(input);
    });
  }
});
