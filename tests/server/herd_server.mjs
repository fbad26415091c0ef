// Starts `herd serve` on a free loopback port (--port 0) and stops it again.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const HERD = process.env.HERD_BINARY || path.join(here, "..", "..", "build", "herd");

export async function startHerd(args = []) {
  const proc = spawn(HERD, ["serve", "--host", "127.0.0.1", "--port", "0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("herd serve did not start:\n" + log)), 60000);
    proc.stderr.on("data", (d) => {
      log += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`herd serve exited with ${code}:\n${log}`));
    });
  });
  return {
    url,
    proc,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const done = new Promise((r) => proc.on("exit", (code, sig) => r(code ?? sig)));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
}
