// The upload page's enhancement (form[data-upload], src/web/upload-routes.tsx): drag and drop onto the drop zone,
// the chosen file's name and size, a file over the server's limit refused before sending, the upload sent with
// XMLHttpRequest (its progress events drive the <progress> bar), then the processing status polled every second
// until the loop is ready (a link to it) or failed (the server's message). Without this script the form posts as
// plain multipart and the server's status page refreshes itself. Listeners sit on the document, so a page swapped
// in by client navigation works too; nothing happens on a page without the form.

const POLL_MS = 1000;

const formOf = (el: EventTarget | null) => (el instanceof Element ? el.closest<HTMLFormElement>("form[data-upload]") : null);
const part = <T extends Element>(form: HTMLFormElement, sel: string) => form.querySelector<T>(sel);

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** The error box above the form (role=alert): the message, or empty to clear it. */
function showError(form: HTMLFormElement, message: string) {
  const box = form.parentElement?.querySelector<HTMLElement>("[data-upload-error]");
  if (!box) return;
  box.textContent = "";
  if (message) {
    const p = document.createElement("p");
    p.textContent = message;
    box.append(p);
  }
}

function setProgress(form: HTMLFormElement, percent: number, text: string) {
  const wrap = part<HTMLElement>(form, "[data-upload-progress]");
  const bar = part<HTMLProgressElement>(form, "[data-progress]");
  const label = part<HTMLElement>(form, "[data-progress-text]");
  if (wrap) wrap.hidden = false;
  if (bar) bar.value = Math.max(0, Math.min(100, Math.round(percent)));
  if (label) label.textContent = text;
}

const chosenFiles = new WeakMap<HTMLFormElement, File>();

/** Takes the file the person picked or dropped: shows it, or refuses it when it is over the server's limit. */
function choose(form: HTMLFormElement, file: File | undefined) {
  const label = part<HTMLElement>(form, "[data-chosen]");
  const max = Number(form.dataset.maxBytes) || Number.POSITIVE_INFINITY;
  chosenFiles.delete(form);
  if (label) label.textContent = "";
  if (!file) return;
  if (file.size > max) {
    showError(form, `${file.name} is ${size(file.size)}; this server takes loops up to ${size(max)}.`);
    const input = part<HTMLInputElement>(form, "[data-file]");
    if (input) input.value = "";
    return;
  }
  showError(form, "");
  chosenFiles.set(form, file);
  if (label) label.textContent = `${file.name} · ${size(file.size)}`;
}

const csrfToken = () => document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";

/** The server's message from a contract error body, or a fallback for the status. */
function messageOf(xhr: XMLHttpRequest): string {
  try {
    const body = JSON.parse(xhr.responseText) as { message?: string; fields?: Record<string, string> };
    const fields = body.fields ? Object.values(body.fields) : [];
    if (body.message) return [body.message, ...fields].join(" ");
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  if (xhr.status === 413) return "This file is larger than the server takes.";
  if (xhr.status === 429) return "Too many uploads for now; try again later.";
  return `The upload failed (${xhr.status || "no connection"}).`;
}

function busy(form: HTMLFormElement, on: boolean) {
  const submit = part<HTMLButtonElement>(form, "[data-submit]");
  if (submit) submit.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

function ready(form: HTMLFormElement, url: string) {
  setProgress(form, 100, "Your loop is ready.");
  const done = part<HTMLElement>(form, "[data-upload-done]");
  const link = part<HTMLAnchorElement>(form, "[data-open-loop]");
  if (link) link.href = url;
  if (done) done.hidden = false;
  link?.focus();
  busy(form, false);
}

/** Polls /upload/:id/status every second until the loop is ready or failed. */
function poll(form: HTMLFormElement, id: string, url: string) {
  const tick = async () => {
    if (!form.isConnected) return; // the person navigated away
    try {
      const res = await fetch(`/upload/${encodeURIComponent(id)}/status`, { headers: { accept: "application/json" }, credentials: "same-origin" });
      const s = (await res.json()) as { status?: string; progress?: number; message?: string };
      if (!res.ok) throw new Error(s.message || `status ${res.status}`);
      if (s.status === "ready") return ready(form, url);
      if (s.status === "failed") {
        showError(form, s.message || "The loop could not be processed.");
        return busy(form, false);
      }
      setProgress(form, s.progress ?? 0, `Processing… ${s.progress ?? 0} %`);
    } catch {
      // a missed poll (the network blinked): the next one tries again
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

function send(form: HTMLFormElement) {
  const file = chosenFiles.get(form);
  if (!file) {
    showError(form, "Choose a loop to upload first.");
    return;
  }
  const data = new FormData(form);
  data.set("audio_file", file, file.name);
  showError(form, "");
  busy(form, true);
  part<HTMLElement>(form, "[data-upload-done]")?.setAttribute("hidden", "");
  setProgress(form, 0, "Uploading… 0 %");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("accept", "application/json");
  xhr.setRequestHeader("x-csrf-token", csrfToken());
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const percent = (e.loaded / e.total) * 100;
    setProgress(form, percent, `Uploading… ${Math.round(percent)} %`);
  });
  xhr.addEventListener("load", () => {
    if (xhr.status < 200 || xhr.status >= 300) {
      showError(form, messageOf(xhr));
      setProgress(form, 0, "");
      return busy(form, false);
    }
    const body = JSON.parse(xhr.responseText) as { post_id: string; status: string; url: string };
    if (body.status === "ready") return ready(form, body.url);
    setProgress(form, 0, "Processing… 0 %");
    poll(form, body.post_id, body.url);
  });
  xhr.addEventListener("error", () => {
    showError(form, "The upload did not reach the server; check your connection and try again.");
    busy(form, false);
  });
  xhr.send(data);
}

document.addEventListener("change", (e) => {
  const form = formOf(e.target);
  if (form && e.target instanceof HTMLInputElement && e.target.matches("[data-file]")) choose(form, e.target.files?.[0]);
});
for (const type of ["dragenter", "dragover"] as const) {
  document.addEventListener(type, (e) => {
    const zone = e.target instanceof Element ? e.target.closest<HTMLElement>("[data-drop]") : null;
    if (!zone || !formOf(zone)) return;
    e.preventDefault();
    zone.classList.add("over");
  });
}
document.addEventListener("dragleave", (e) => {
  const zone = e.target instanceof Element ? e.target.closest<HTMLElement>("[data-drop]") : null;
  if (zone && !(e.relatedTarget instanceof Node && zone.contains(e.relatedTarget))) zone.classList.remove("over");
});
document.addEventListener("drop", (e) => {
  const zone = e.target instanceof Element ? e.target.closest<HTMLElement>("[data-drop]") : null;
  const form = formOf(zone);
  if (!zone || !form) return;
  e.preventDefault();
  zone.classList.remove("over");
  const files = e.dataTransfer?.files;
  const input = part<HTMLInputElement>(form, "[data-file]");
  // The input shows the dropped file too (and a plain submit would carry it), where the browser allows setting it.
  if (input && files?.length) {
    try {
      input.files = files;
    } catch {
      // older browsers: the script sends the dropped file itself
    }
  }
  choose(form, files?.[0]);
});
document.addEventListener("submit", (e) => {
  const form = formOf(e.target);
  if (!form || !("XMLHttpRequest" in window)) return;
  e.preventDefault();
  if (form.getAttribute("aria-busy") === "true") return;
  send(form);
});
