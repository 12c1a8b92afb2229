// The 404 page of the web app, in the frame (the header still knows who is signed in): unknown loops and
// producers, and loops that are not public.
import { Shell, type Viewer } from "../shell.tsx";

export type Instance = { name: string; description: string };

/** The 404 page, in the frame (the header still knows who is signed in). */
export function NotFoundPage(p: { instance: Instance; viewer: Viewer; path: string; what: string }): JSX.Element {
  return (
    <Shell title="Not found" instance={p.instance} viewer={p.viewer} path={p.path} narrow>
      <h1>Not found</h1>
      <p safe>{p.what}</p>
      <p>
        <a class="button" href="/">
          Back to the loops
        </a>
      </p>
    </Shell>
  ) as JSX.Element;
}
