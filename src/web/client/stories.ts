// Story views (src/web/story-routes.tsx): starting a story's <audio> records that the member heard it, once per
// page, as its "Mark as heard" button does without JavaScript (POST /stories/:id/view with the CSRF header).
const sent = new Set<string>();

document.addEventListener(
  "play",
  (event) => {
    const audio = event.target;
    if (!(audio instanceof HTMLAudioElement)) return;
    const url = audio.dataset.storyView;
    const token = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
    if (!url || !token || sent.has(url)) return;
    sent.add(url);
    fetch(url, { method: "POST", credentials: "same-origin", headers: { accept: "application/json", "x-csrf-token": token } })
      .then((res) => {
        if (!res.ok) return sent.delete(url);
        const item = audio.closest("li");
        item?.classList.add("heard");
        item?.querySelector("form")?.remove();
      })
      .catch(() => sent.delete(url));
  },
  // Media events do not bubble: listen while they go down.
  true,
);
