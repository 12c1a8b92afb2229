// Reactions and follows without leaving the page (docs/architecture.md "Web app"). A submit of a reaction form
// (form.reactions, web/ui/loop.tsx) or a follow form (form[data-follow], web/ui/follow.tsx) is sent with fetch,
// asking for JSON and carrying the form's CSRF token in x-csrf-token; the answer updates every copy of the counts
// on the page in place. While a request is in flight the form's buttons are disabled. A refusal (the contract's
// {"error","message"}) is shown next to the form (role=alert); when fetch itself fails (offline, blocked), the form
// is submitted the plain way and the server answers with the page.

type ReactionState = { like_count: number; reaction_counts: Record<string, number>; user_reaction: string; is_liked: boolean };
type FollowState = { is_following: boolean; follower_count: number };

/** Shows the reaction state on every reaction bar of this loop (feed card, loop page, anonymous links). */
export function showReactions(postId: string, state: Pick<ReactionState, "reaction_counts"> & { user_reaction?: string }): void {
  document.querySelectorAll<HTMLElement>(`[data-reactions="${CSS.escape(postId)}"]`).forEach((bar) => {
    bar.querySelectorAll<HTMLElement>("[data-emoji]").forEach((el) => {
      const emoji = el.dataset.emoji ?? "";
      const n = state.reaction_counts[emoji] ?? 0;
      const count = el.querySelector(".count");
      if (count) count.textContent = n ? String(n) : "";
      if (state.user_reaction !== undefined && el instanceof HTMLButtonElement) el.setAttribute("aria-pressed", String(state.user_reaction === emoji));
    });
  });
}

function showFollow(username: string, state: FollowState): void {
  document.querySelectorAll<HTMLFormElement>(`form[data-follow="${CSS.escape(username)}"]`).forEach((form) => {
    const button = form.querySelector<HTMLButtonElement>("button");
    button?.setAttribute("aria-pressed", String(state.is_following));
    const field = form.querySelector<HTMLInputElement>('input[name="follow"]');
    if (field) field.value = state.is_following ? "0" : "1";
  });
  document.querySelectorAll<HTMLElement>(`[data-follower-count="${CSS.escape(username)}"]`).forEach((el) => {
    el.textContent = String(state.follower_count);
  });
}

function showError(form: HTMLFormElement, message: string): void {
  let alert = form.nextElementSibling as HTMLElement | null;
  if (!alert?.matches("[data-form-error]")) {
    alert = document.createElement("p");
    alert.className = "error";
    alert.setAttribute("role", "alert");
    alert.dataset.formError = "";
    form.after(alert);
  }
  alert.textContent = message;
  alert.hidden = !message;
}

async function send(form: HTMLFormElement, submitter: HTMLElement | null): Promise<void> {
  const body = new URLSearchParams();
  new FormData(form).forEach((v, k) => {
    if (typeof v === "string") body.append(k, v);
  });
  if (submitter instanceof HTMLButtonElement && submitter.name) body.set(submitter.name, submitter.value);
  const buttons = Array.from(form.querySelectorAll<HTMLButtonElement>("button"));
  for (const b of buttons) b.disabled = true;
  let res: Response;
  try {
    res = await fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { accept: "application/json", "x-csrf-token": String(body.get("csrf") ?? "") },
    });
  } catch {
    // No answer at all: let the browser post the form and show the server's page.
    for (const b of buttons) b.disabled = false;
    form.dataset.plain = "1";
    form.requestSubmit(submitter instanceof HTMLButtonElement ? submitter : undefined);
    return;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    showError(form, typeof data.message === "string" ? data.message : "Something went wrong; try again.");
    return;
  }
  showError(form, "");
  if (form.dataset.follow !== undefined) showFollow(form.dataset.follow, data as FollowState);
  else if (form.dataset.reactions) showReactions(form.dataset.reactions, data as ReactionState);
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !(form.matches("form.reactions") || form.matches("form[data-follow]"))) return;
  if (form.dataset.plain) return; // the fallback's own submit
  event.preventDefault();
  void send(form, event.submitter);
});
