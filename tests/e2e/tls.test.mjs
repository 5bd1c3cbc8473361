// The web client over https:// in a real headless Chromium: the page comes over TLS, opens its
// WebSocket as wss:// on the same port, and chats with a telnet-style user in clear text there.
// The certificate is made for the run by openssl's CLI (scripts/test.sh installs openssl); the
// browser is told to accept it, as a person accepts a self-signed certificate once.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { DESKTOP, TcpClient, launchBrowser, loginPage, openPage, screenshot, startServer } from "./support.mjs";

let browser;
let certDir;

before(async () => {
  browser = await launchBrowser();
  certDir = mkdtempSync(path.join(os.tmpdir(), "reactor-chat-e2e-tls-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", path.join(certDir, "key.pem"), "-out", path.join(certDir, "cert.pem"),
    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ], { stdio: "ignore" });
});

after(async () => {
  await browser?.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

test("over https the page chats through wss:// with a clear-text user on the same port", { timeout: 60_000 }, async () => {
  const server = await startServer([
    "--tls-cert", path.join(certDir, "cert.pem"), "--tls-key", path.join(certDir, "key.pem"),
  ]);
  try {
    const tom = await TcpClient.connect(server.addr);
    await tom.login("tom");
    const page = await openPage(browser, `https://${server.addr}/`, { ...DESKTOP, ignoreHTTPSErrors: true });
    const sockets = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await loginPage(page, "dana");
    assert.deepEqual(sockets, [`wss://${server.addr}/ws`]);
    await tom.expectStamped("* dana joined");
    tom.send("hello over there");
    await page.locator("#log .line.chat", { hasText: "hello over there" }).first().waitFor();
    await page.fill("#input", "안녕, over TLS");
    await page.press("#input", "Enter");
    await tom.expectStamped("dana: 안녕, over TLS");
    await screenshot(page, "desktop-https.png");
    assert.deepEqual(page.consoleErrors, [], "no script errors");
    // The page and its WebSocket each did a handshake; tom's clear connection did none.
    const handshakes = server.log().match(/msg="TLS established"/g) ?? [];
    assert.ok(handshakes.length >= 2, server.log());
    await page.context().close();
    tom.close();
  } finally {
    server.stop();
  }
});
