// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Runs code in a child `deno run` on a terminal (made by `script(1)` when it
 * is installed), where Deno would prompt for a missing permission, and stops
 * the child as soon as it prompts: shows that our code never prompts.
 *
 * @module
 */

/** Whether `script` can give a child a terminal, where Deno would prompt. */
export const HAS_TERMINAL: boolean = (() => {
  try {
    return new Deno.Command("script", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

/** What {@linkcode runPromptable} saw. */
export interface PromptableRun {
  /** stdout and stderr, interleaved. */
  output: string;
  /** Whether Deno asked for a permission (the child was then killed). */
  prompted: boolean;
  /** Whether the child exited with status 0. */
  success: boolean;
}

/**
 * Runs TypeScript `code` with `deno run <flags>`, with only PATH, HOME and
 * DENO_DIR of our environment (CI sets DENO_NO_PROMPT, which would hide a
 * prompt) plus `env`. Stops it at its first prompt, or after 30 s.
 */
export async function runPromptable(
  flags: string[],
  code: string,
  env: Record<string, string> = {},
): Promise<PromptableRun> {
  const args = [
    "run",
    "--no-config",
    "--no-lock",
    ...flags,
    `data:application/typescript;base64,${btoa(code)}`,
  ];
  const childEnv: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) childEnv[name] = value;
  }
  Object.assign(childEnv, env, { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" });
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const [command, commandArgs] = HAS_TERMINAL
    ? [
      "script",
      ["-qec", [Deno.execPath(), ...args].map(quote).join(" "), "/dev/null"],
    ]
    : [Deno.execPath(), args];
  const child = new Deno.Command(command, {
    args: commandArgs,
    env: childEnv,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let prompted = false;
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    // Bounded by the child: the pipe ends when it exits.
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      output += value;
      if (!prompted && /Deno requests|Allow\?/.test(output)) {
        prompted = true;
        child.kill("SIGKILL");
      }
    }
  };
  const killer = setTimeout(() => {
    output += "\n<killed after 30 s>";
    child.kill("SIGKILL");
  }, 30_000);
  await Promise.all([read(child.stdout), read(child.stderr)]);
  const status = await child.status;
  clearTimeout(killer);
  await child.stdin.close().catch(() => {});
  return { output, prompted, success: status.success };
}
