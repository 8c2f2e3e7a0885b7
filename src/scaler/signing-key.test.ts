// The decision signing key from a file: a short or empty file fails at start instead of giving a weak key.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import { readSigningKeyFile, signingKeyLoader } from "./signing-key.js";

describe("decision signing key", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "signing-key-"));
  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  it("reads a key of at least 32 bytes, without the trailing newline", () => {
    const key = "k".repeat(40);
    expect(readSigningKeyFile(file("ok", `${key}\n`)).toString()).toBe(key);
  });

  it.each([
    ["empty", ""],
    ["whitespace", " \n"],
    ["short", "k".repeat(31)],
  ])("refuses an %s file", (name, content) => {
    expect(() => readSigningKeyFile(file(name, content))).toThrow(/needs at least 32/);
  });

  it("loads the file once, and never asks the apiserver when a file is given", async () => {
    const p = file("once", "x".repeat(32));
    const load = signingKeyLoader(undefined as never, { file: p }, createLogger({ level: "silent" }));
    const a = await load();
    writeFileSync(p, "y".repeat(32));
    expect((await load()).equals(a)).toBe(true);
  });
});
