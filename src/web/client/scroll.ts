// Infinite scroll (docs/architecture.md "Web app"): the "More loops" link (a[data-more], a plain link to the next
// page without the script) is watched; when it nears the viewport its href is fetched with x-fragment: 1 and the
// returned cards (with the next link, if any) replace the link's <li>. On failure the link stays and still works.
import { onPage } from "./nav.ts";

let observer: IntersectionObserver | null = null;
const loading = new WeakSet<Element>();

async function loadMore(link: HTMLAnchorElement): Promise<void> {
  if (loading.has(link)) return;
  loading.add(link);
  observer?.unobserve(link);
  const item = link.closest("li") ?? link;
  item.setAttribute("aria-busy", "true");
  try {
    const res = await fetch(link.href, { headers: { accept: "text/html", "x-fragment": "1" }, credentials: "same-origin" });
    if (!res.ok || !(res.headers.get("content-type") ?? "").startsWith("text/html")) throw new Error(`status ${res.status}`);
    const template = document.createElement("template");
    template.innerHTML = await res.text();
    const added = Array.from(template.content.children);
    item.replaceWith(template.content);
    for (const el of added) {
      el.dispatchEvent(new CustomEvent("sc:cards", { bubbles: true }));
      for (const more of Array.from(el.querySelectorAll<HTMLAnchorElement>("a[data-more]"))) watch(more);
      if (el.matches("a[data-more]")) watch(el as HTMLAnchorElement);
    }
  } catch {
    item.removeAttribute("aria-busy");
    loading.delete(link);
  }
}

function watch(link: HTMLAnchorElement) {
  observer?.observe(link);
}

onPage((root) => {
  if (!("IntersectionObserver" in window)) return;
  observer?.disconnect();
  observer = new IntersectionObserver(
    (entries) => {
      for (const e of entries) if (e.isIntersecting) void loadMore(e.target as HTMLAnchorElement);
    },
    { rootMargin: "600px 0px" },
  );
  for (const link of Array.from(root.querySelectorAll<HTMLAnchorElement>("a[data-more]"))) watch(link);
});
