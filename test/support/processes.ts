// Processes a test leaves behind when it kills a server with SIGKILL: the server's ffmpeg children outlive it.

/** Ends, by pid, every process whose arguments name `marker` (a killed server's private TMPDIR). */
export function killOrphans(marker: string) {
  const ps = Bun.spawnSync(["ps", "-eo", "pid=,args="]).stdout.toString();
  for (const line of ps.split("\n")) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m && m[2]!.includes(marker) && !m[2]!.startsWith("ps ")) {
      try {
        process.kill(Number(m[1]), "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
}
