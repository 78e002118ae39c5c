// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Temporary directories of config files for the real servers the tests run
 * (nginx, squid, tinyproxy, danted). The test task may read the project but
 * not write anywhere, so a child `deno eval` (which has every permission)
 * writes and removes them.
 *
 * @module
 */

const WRITE_TREE = `
const { dir: given, files, prefix, shared } = JSON.parse(
  await new Response(Deno.stdin.readable).text(),
);
const dir = given ?? await Deno.makeTempDir({ prefix });
// Servers that drop privileges (squid runs as 'proxy') must read and write.
if (shared) await Deno.chmod(dir, 0o777);
for (const [path, text] of Object.entries(files)) {
  const full = dir + "/" + path;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(full, text.replaceAll("$DIR", dir));
  if (shared) await Deno.chmod(full, 0o644);
}
console.log(dir);
`;

/** Options of {@linkcode writeTempTree}. */
export interface TempTreeOptions {
  /** Write into this directory instead of a new one. */
  dir?: string;
  /** Prefix of a new directory's name. */
  prefix?: string;
  /** Let every user read the files and write the directory. */
  shared?: boolean;
}

/**
 * Writes `files` (relative path to text; `$DIR` in a text becomes the
 * directory) and returns the directory.
 */
export async function writeTempTree(
  files: Record<string, string>,
  { dir, prefix = "pooled_fetch_", shared = false }: TempTreeOptions = {},
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", WRITE_TREE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(JSON.stringify({ dir, files, prefix, shared })),
  );
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `Could not write ${prefix}files: ${decoder.decode(out.stderr)}`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

/** Removes a directory made by {@linkcode writeTempTree}. */
export async function removeTempTree(dir: string): Promise<void> {
  await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--quiet",
      `await Deno.remove(${JSON.stringify(dir)}, { recursive: true })`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).output();
}
