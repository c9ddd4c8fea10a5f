import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { CLOSE_TRY_AGAIN_LATER } from "@cowrite/shared";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectProvider,
  type Running,
  rawClient,
  startServer,
  tempDir,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

// Real failures of a real SQLite file: another connection holding the write
// lock, and a full disk (a small tmpfs). No patched store methods.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const text = (doc: { getText(name: string): { toString(): string } }) =>
  doc.getText("t").toString();

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

/** Resolves once /readyz answers `status` (asking again after each answer). */
async function whenReady(url: string, status: number): Promise<void> {
  while ((await readyStatus(url)) !== status) {
    // Each round trip is an event; no timer decides anything here.
  }
}

/** A document with some durable text, and a client still connected to it. */
async function documentWithText(running: Running, docId: string, content: string) {
  const writer = connectProvider(running.wsUrl, docId);
  cleanups.push(() => writer.provider.destroy());
  await whenSynced(writer.provider);
  writer.doc.getText("t").insert(0, content);
  // The server broadcasts only what is durable: once a second client has
  // it, it is on disk.
  const observer = connectProvider(running.wsUrl, docId);
  cleanups.push(() => observer.provider.destroy());
  await whenDoc(observer.doc, (doc) => text(doc) === content);
  return { writer, observer };
}

describe("when the database takes no writes", () => {
  it("a write lock held by another process: the server stays responsive, new clients are told, and it all resumes", async () => {
    const dir = tempDir();
    const running = await startServer({ dir });
    cleanups.push(() => running.stop());
    const { writer, observer } = await documentWithText(running, "locked", "before");
    await documentWithText(running, "other", "other text");

    const locker = new Database(path.join(dir, "cowrite.db"));
    cleanups.push(() => {
      locker.close();
    });
    locker.exec("BEGIN IMMEDIATE");
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    writer.doc.getText("t").insert(6, " and after");
    await whenReady(running.url, 503);

    // A new client of the failing document is told, not left waiting.
    const late = rawClient(`${running.wsUrl}/locked`);
    const closed = await late.closed;
    expect(closed.code).toBe(CLOSE_TRY_AGAIN_LATER);
    expect(closed.reason).toMatch(/cannot be saved/);
    // Another document still opens and serves its text.
    const reader = connectProvider(running.wsUrl, "other");
    cleanups.push(() => reader.provider.destroy());
    await whenSynced(reader.provider);
    expect(text(reader.doc)).toBe("other text");
    // Nothing that is not on disk went out.
    expect(text(observer.doc)).toBe("before");
    // Each attempt waits for the lock briefly, never the 5 s busy timeout.
    delay.disable();
    expect(delay.max / 1e6).toBeLessThan(1000);

    locker.exec("ROLLBACK");
    await whenDoc(observer.doc, (doc) => text(doc) === "before and after");
    await whenReady(running.url, 200);
    const fresh = connectProvider(running.wsUrl, "locked");
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    expect(text(fresh.doc)).toBe("before and after");
  });

  it("shutdown finishes within its grace period while saves fail, and keeps everything acknowledged", async () => {
    const dir = tempDir();
    const running = await startServer({ dir, shutdownGraceMs: 300 });
    const { writer } = await documentWithText(running, "stuck", "acknowledged");
    const locker = new Database(path.join(dir, "cowrite.db"));
    cleanups.push(() => {
      locker.close();
    });
    locker.exec("BEGIN IMMEDIATE");
    writer.doc.getText("t").insert(0, "never acknowledged, ");
    await whenReady(running.url, 503);
    // Hangs (and the test times out) if shutdown waits for the failing save.
    await running.stop();
    locker.exec("ROLLBACK");
    writer.provider.destroy();

    const restarted = await startServer({ dir });
    cleanups.push(() => restarted.stop());
    const fresh = connectProvider(restarted.wsUrl, "stuck");
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    expect(text(fresh.doc)).toBe("acknowledged");
  });

  it("a full disk: saves fail without harm and succeed once there is space again", async () => {
    const dir = tempDir();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir]);
    } catch (error) {
      throw new Error(
        `this test mounts a 4 MB tmpfs and needs root (CI runs as root): ${(error as Error).message}`,
      );
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", dir]);
    });
    const running = await startServer({ dir });
    cleanups.push(() => running.stop());
    const { writer, observer } = await documentWithText(running, "full", "small start");

    // Fill the disk to the last byte.
    const filler = path.join(dir, "filler");
    const chunk = Buffer.alloc(64 * 1024, 1);
    const fd = fs.openSync(filler, "w");
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    } finally {
      fs.closeSync(fd);
    }
    const big = "x".repeat(512 * 1024);
    writer.doc.getText("t").insert(0, big);
    await whenReady(running.url, 503);
    const late = rawClient(`${running.wsUrl}/full`);
    expect((await late.closed).code).toBe(CLOSE_TRY_AGAIN_LATER);
    expect(text(observer.doc)).toBe("small start");

    fs.rmSync(filler);
    await whenDoc(observer.doc, (doc) => text(doc) === `${big}small start`);
    await whenReady(running.url, 200);
  });
});
