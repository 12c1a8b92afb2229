// What a page says after one of its forms (the ?saved= / ?error= of the 303 that followed it): a status line for
// success, an alert for the server's refusal. Used by /settings and the /admin pages.
export function FormOutcome(p: { saved?: string; error?: string }): JSX.Element {
  return (
    <>
      {p.saved ? (
        <p class="notice ok" role="status" safe>
          {p.saved}
        </p>
      ) : (
        ""
      )}
      {p.error ? (
        <p class="notice error" role="alert" safe>
          {p.error}
        </p>
      ) : (
        ""
      )}
    </>
  ) as JSX.Element;
}
