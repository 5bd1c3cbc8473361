// The harness of the end-to-end tests: the real server binary on an ephemeral port, a raw TCP
// chat client (as telnet or nc would speak), and headless Chromium driven by playwright-core.
// Every wait has a deadline; nothing sleeps for a fixed time to "let things settle".

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

/** How long anything expected may take. Generous: CI machines are shared and slow. */
export const WAIT = 10_000;

const here = path.dirname(fileURLToPath(import.meta.url));
/** Screenshots land here (under target/, so they are never committed). */
export const ARTIFACTS = path.resolve(here, "../../target/e2e-artifacts");

const BIN = process.env.REACTOR_CHAT_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/**
 * A running `reactor-chat --bind 127.0.0.1:0 ARGS...`; `stop()` kills it. History stays on, as
 * users run it, but in a data directory of its own: the default (`./reactor-chat-data`) is the
 * developer's own server's history, which tests must neither write to nor read from. The first
 * user is operator (`--first-user-op`), as the tests expect, unless ARGS give an admin key.
 */
export async function startServer(args = []) {
  if (!BIN) throw new Error("set REACTOR_CHAT_BIN to the reactor-chat binary (cargo test does)");
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "reactor-chat-e2e-"));
  const ownKey = args.some((a) => a.startsWith("--admin-key"));
  const firstUserOp = ownKey ? [] : ["--first-user-op"];
  const child = spawn(BIN, ["--bind", "127.0.0.1:0", "--data-dir", dataDir, ...firstUserOp, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, REACTOR_CHAT_ADMIN_KEY: "" },
  });
  let log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { log += d; });
  child.stdout.setEncoding("utf8");
  const addr = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the server did not print its address; log:\n${log}`)), WAIT);
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}; log:\n${log}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^reactor-chat listening on (\S+)\r?\n/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return {
    addr,
    url: `http://${addr}/`,
    log: () => log,
    stop() {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A line-protocol client over raw TCP, with a transcript for failure messages. */
export class TcpClient {
  static async connect(addr) {
    const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
    const socket = net.connect({ host, port });
    await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("error", reject); });
    return new TcpClient(socket);
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.seen = [];
    this.waiters = [];
    socket.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on("error", () => {});
  }

  wake() { for (const w of this.waiters.splice(0)) w(); }

  /** Waits until `take()` returns something other than undefined, or fails after WAIT. */
  async until(what, take) {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`TCP client: ${what} never came; it saw:\n${this.seen.join("\n")}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** The next whole line, without its "\r\n", or undefined. */
  takeLine() {
    const at = this.buf.indexOf("\r\n");
    if (at < 0) return undefined;
    const line = this.buf.subarray(0, at).toString("utf8");
    this.buf = this.buf.subarray(at + 2);
    this.seen.push(line);
    return line;
  }

  /** Reads lines until one matches; returns it. */
  expect(what, pred) {
    return this.until(what, () => {
      for (let line; (line = this.takeLine()) !== undefined;) if (pred(line)) return line;
      return undefined;
    });
  }

  /** A line that is "[HH:MM] " and then exactly `rest`. */
  expectStamped(rest) {
    return this.expect(JSON.stringify(rest), (l) => /^\[\d\d:\d\d\] /.test(l) && l.slice(8) === rest);
  }

  /** `=file ID SIZE FROM NAME` and its SIZE raw bytes. */
  async expectFile() {
    const header = await this.expect("a =file header", (l) => l.startsWith("=file "));
    const [, id, size, from, name] = /^=file (\d+) (\d+) (\S+) (.+)$/.exec(header);
    const n = Number(size);
    const bytes = await this.until(`${n} file bytes`, () => {
      if (this.buf.length < n) return undefined;
      const b = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      return Buffer.from(b);
    });
    return { id: Number(id), from, name, bytes };
  }

  send(line) { this.socket.write(`${line}\n`); }

  async login(nick) {
    this.send(nick);
    await this.expect("the resume key", (l) => l.startsWith("-- Resume key: "));
  }

  close() { this.socket.destroy(); }
}

/**
 * Debian's Chromium, never a downloaded browser. The flags keep it from reaching for a network
 * this machine may not have (updates, sync, QUIC). Each launch gets a fresh profile directory:
 * playwright makes one per launch (it refuses a --user-data-dir argument) and removes it on close.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A desktop browser's window. */
export const DESKTOP = { viewport: { width: 1100, height: 720 }, deviceScaleFactor: 1 };
/**
 * A phone, emulated as a mobile browser is (a 390 px wide device with touch, a mobile layout
 * viewport that grows to fit content wider than the screen), not merely a narrow window.
 */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/** A page in its own context (its own localStorage), with every wait bounded. */
export async function openPage(browser, url, device = DESKTOP) {
  const context = await browser.newContext({ ...device, acceptDownloads: true });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on("pageerror", (e) => page.consoleErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") page.consoleErrors.push(m.text()); });
  await page.goto(url);
  return page;
}

/**
 * Fails if the page is wider than its device: on a mobile browser anything sticking out to the
 * side widens the layout viewport, and the page is cut off or shifted sideways.
 */
export async function assertFitsWidth(page, what) {
  const widths = await page.evaluate(() => ({
    window: window.innerWidth,
    document: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
  }));
  const device = page.viewportSize().width;
  for (const [name, width] of Object.entries(widths)) {
    if (width > device) throw new Error(`${what}: the ${name} is ${width} px wide on a ${device} px screen`);
  }
}

/** Logs a page in through the login form and waits until the server has welcomed it. */
export async function loginPage(page, nick) {
  await page.fill("#login-nick", nick);
  await page.click("#login-button");
  await page.waitForSelector('body[data-state="online"]');
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** A valid PNG (a colour gradient), made here so the tests ship no binary files. */
export async function makePng(width = 160, height = 96) {
  const zlib = await import("node:zlib");
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1); // each row starts with filter type 0
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = Math.round((255 * x) / width);
      rows[row + 2 + x * 3] = Math.round((255 * y) / height);
      rows[row + 3 + x * 3] = 200;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
