/**
 * Linux process accounting for the benchmark: CPU time of a server's whole process tree (wrangler's
 * node + both workerd processes, or Express's node) and of the machine, read from /proc, so the
 * report can say per request how much CPU each server burned and whether the 2 cores were saturated.
 * Everything degrades to "unknown" (null) off Linux instead of failing the run.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Clock ticks per second for /proc's utime/stime; 100 on practically every Linux. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, in milliseconds. */
  cpuMs: number;
}

/** Parses /proc/<pid>/stat; `comm` may contain spaces and parentheses, so split after the last ')'. */
function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15 (1-based).
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { pid, ppid, comm, cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

/** CPU milliseconds used so far by each process in the tree rooted at `root` (root included). */
export function treeCpu(root: number): Map<number, { comm: string; cpuMs: number }> {
  const all: ProcStat[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return new Map();
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const result = new Map<number, { comm: string; cpuMs: number }>();
  const rootStat = all.find((stat) => stat.pid === root);
  if (!rootStat) return result;
  const stack = [rootStat];
  while (stack.length > 0) {
    const stat = stack.pop()!;
    result.set(stat.pid, { comm: stat.comm, cpuMs: stat.cpuMs });
    stack.push(...(children.get(stat.pid) ?? []));
  }
  return result;
}

/** Per-process CPU ms spent between two {@link treeCpu} snapshots, by process name (e.g. workerd). */
export function cpuDelta(
  before: Map<number, { comm: string; cpuMs: number }>,
  after: Map<number, { comm: string; cpuMs: number }>,
): { totalMs: number; byComm: Record<string, number> } {
  let totalMs = 0;
  const byComm: Record<string, number> = {};
  for (const [pid, now] of after) {
    const spent = now.cpuMs - (before.get(pid)?.cpuMs ?? 0);
    if (spent <= 0) continue;
    totalMs += spent;
    // Threads show up as "MainThread" etc. for node; group by a stable, readable name.
    const name = now.comm.startsWith("workerd")
      ? "workerd"
      : now.comm.toLowerCase().includes("esbuild")
        ? "esbuild"
        : "node";
    byComm[name] = (byComm[name] ?? 0) + spent;
  }
  return { totalMs, byComm };
}

/** Machine-wide CPU counters from /proc/stat: busy and total jiffies over all cores. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share of all cores that was busy between two {@link machineCpu} readings, 0..1. */
export function busyShare(before: ReturnType<typeof machineCpu>, after: ReturnType<typeof machineCpu>): number | null {
  if (!before || !after || after.total === before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits (bounded) until the machine is quiet — at most `threshold` of both cores busy over a second —
 * so a colleague's test run on the same 2 cores does not skew one server's figures against another's.
 * Returns the last busy share seen and whether it was quiet; never fails the run.
 */
export async function waitForQuiet(
  maxWaitMs: number,
  threshold = 0.3,
): Promise<{ busy: number | null; quiet: boolean; waitedMs: number }> {
  const started = Date.now();
  let busy: number | null = null;
  do {
    const before = machineCpu();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    busy = busyShare(before, machineCpu());
    if (busy === null || busy <= threshold) return { busy, quiet: true, waitedMs: Date.now() - started };
  } while (Date.now() - started < maxWaitMs);
  return { busy, quiet: false, waitedMs: Date.now() - started };
}
