// End-to-end tests of the web client in a real headless Chromium: two browsers and a raw TCP
// client chat together, share files (a download and an inline picture), and a browser that the
// server drops comes back by itself with its resume key. Run by `cargo test` (tests/it/browser.rs)
// with REACTOR_CHAT_BIN set; screenshots go to target/e2e-artifacts/.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  PHONE, TcpClient, WAIT, assertFitsWidth, launchBrowser, loginPage, makePng, openPage, screenshot,
  startServer,
} from "./support.mjs";

let browser;
const cleanups = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  for (const f of cleanups.reverse()) await f();
  await browser?.close();
});

/** Runs `f` at the end even if the test fails, so no server or socket outlives the run. */
function onCleanup(f) {
  cleanups.push(async () => { try { await f(); } catch (_) { /* already gone */ } });
}

/** The texts of the log lines of `kind` (chat, notice, whisper, ...). */
const logTexts = (page, kind) => page.$$eval(`#log .line.${kind}`, (els) => els.map((e) => e.textContent));

/** The names in the user list. */
const userList = (page) => page.$$eval("#users .nick", (els) => els.map((e) => e.textContent).sort());

/** Waits until the page's log has a line of `kind` containing `text`. */
async function seeLine(page, kind, text) {
  await page.locator(`#log .line.${kind}`, { hasText: text }).first().waitFor();
}

/** Waits until the user list holds exactly `names`. */
async function seeUsers(page, names) {
  const want = [...names].sort();
  await page.waitForFunction(
    (w) => JSON.stringify([...document.querySelectorAll("#users .nick")].map((e) => e.textContent).sort()) === JSON.stringify(w),
    want,
    { timeout: WAIT },
  ).catch(async (e) => {
    throw new Error(`user list ${JSON.stringify(await userList(page))}, expected ${JSON.stringify(want)}: ${e.message}`);
  });
}

test("two browsers and a TCP client chat, share files and show a picture inline", { timeout: 90_000 }, async () => {
  const server = await startServer();
  onCleanup(() => server.stop());
  const tom = await TcpClient.connect(server.addr);
  onCleanup(() => tom.close());
  await tom.login("tom");

  // Alice on a desktop browser, 민지 on an emulated phone.
  const alice = await openPage(browser, server.url);
  await screenshot(alice, "desktop-login.png");
  await loginPage(alice, "alice");
  await tom.expectStamped("* alice joined");
  const minji = await openPage(browser, server.url, PHONE);
  await assertFitsWidth(minji, "the login card on a phone");

  // A taken name is refused and the form asks again, on the same connection.
  await minji.fill("#login-nick", "tom");
  await minji.click("#login-button");
  await minji.locator("#login-error", { hasText: "tom" }).waitFor();
  assert.equal(await minji.getAttribute("body", "data-state"), "login");
  await loginPage(minji, "민지");
  await tom.expectStamped("* 민지 joined");
  await assertFitsWidth(minji, "the chat on a phone");

  // Messages are seen both ways, Korean included, with the server's timestamps.
  await alice.fill("#input", "hello everyone");
  await alice.press("#input", "Enter");
  await tom.expectStamped("alice: hello everyone");
  await seeLine(minji, "chat", "hello everyone");
  await minji.fill("#input", "안녕하세요, 반가워요");
  await minji.press("#input", "Enter");
  await tom.expectStamped("민지: 안녕하세요, 반가워요");
  await seeLine(alice, "chat", "안녕하세요, 반가워요");
  tom.send("hi from the terminal <b>not bold</b> <img src=x onerror=alert(1)>");
  await seeLine(alice, "chat", "hi from the terminal");
  await seeLine(minji, "chat", "hi from the terminal");
  const stamped = await alice.locator("#log .line.chat", { hasText: "hi from the terminal" }).first();
  assert.match(await stamped.locator(".stamp").textContent(), /^\[\d\d:\d\d\]$/);
  // Server text is text: the markup shows as typed and makes no elements.
  assert.equal(await stamped.locator("b, img").count(), 0);
  assert.match(await stamped.textContent(), /<b>not bold<\/b> <img src=x onerror=alert\(1\)>/);

  // The user list shows all three, live; the room list shows the lobby.
  await seeUsers(alice, ["alice", "tom", "민지"]);
  await seeUsers(minji, ["alice", "tom", "민지"]);
  await alice.locator("#rooms .room.here", { hasText: "lobby" }).waitFor();
  // The same name has the same colour on both screens.
  const colourOf = (page) => page.locator("#users .nick", { hasText: "tom" }).evaluate((e) => getComputedStyle(e).color);
  assert.equal(await colourOf(alice), await colourOf(minji));

  // Whisper by clicking a name: the command is typed for the user.
  await alice.click("#users .nick >> text=tom");
  assert.equal(await alice.inputValue("#input"), "/msg tom ");
  await alice.keyboard.type("psst");
  await alice.press("#input", "Enter");
  await tom.expectStamped("*alice* psst");
  tom.send("/msg 민지 a secret for you");
  await seeLine(minji, "whisper", "a secret for you");
  // Typed commands go as they are.
  await alice.fill("#input", "/me waves");
  await alice.press("#input", "Enter");
  await tom.expectStamped("* alice waves");

  // Rooms: tom moves to "games"; the room list follows and a click switches rooms.
  tom.send("/join games");
  await tom.expect("the room change", (l) => l === "-- You are now in room games.");
  await seeUsers(alice, ["alice", "민지"]);
  await alice.locator("#rooms .room", { hasText: "games" }).click();
  await tom.expectStamped("* alice joined");
  await alice.locator("#room-name", { hasText: "games" }).waitFor();
  await seeUsers(alice, ["alice", "tom"]);
  await alice.locator("#rooms .room.here", { hasText: "games" }).waitFor();
  await alice.locator("#rooms .room", { hasText: "lobby" }).click();
  await seeUsers(alice, ["alice", "민지"]);
  tom.send("/part");
  await seeUsers(alice, ["alice", "tom", "민지"]);
  await screenshot(alice, "desktop-chat.png");

  // A file from a browser (the file button) to the other browser (Accept) and to the TCP client.
  const payload = Buffer.from([...Array(256).keys(), ...Buffer.from("\r\n끝\n")]);
  await alice.setInputFiles("#file-input", { name: "notes 1.bin", mimeType: "application/octet-stream", buffer: payload });
  await seeLine(alice, "info", "Offered #1 notes 1.bin");
  const offer = minji.locator("#log .line.offer", { hasText: "notes 1.bin" });
  await offer.waitFor();
  await offer.locator("button.accept").click();
  const link = minji.locator("#log .line.received a.download", { hasText: "notes 1.bin" });
  await link.waitFor();
  assert.equal(await link.getAttribute("download"), "notes 1.bin");
  const [download] = await Promise.all([minji.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "notes 1.bin");
  assert.deepEqual(readFileSync(await download.path()), payload);
  await tom.expect("the offer", (l) => l.includes(`alice offers the file notes 1.bin (${payload.length} B) as #1: /accept 1`));
  tom.send("/accept 1");
  const got = await tom.expectFile();
  assert.deepEqual([got.id, got.from, got.name], [1, "alice", "notes 1.bin"]);
  assert.deepEqual(got.bytes, payload);

  // A picture shows inline once accepted.
  const png = await makePng();
  await alice.setInputFiles("#file-input", { name: "사진.png", mimeType: "image/png", buffer: png });
  const imageOffer = minji.locator("#log .line.offer", { hasText: "사진.png" });
  await imageOffer.waitFor();
  await screenshot(minji, "phone-offer.png");
  await imageOffer.locator("button.accept").click();
  const img = minji.locator("#log .line.received img.inline-image");
  await img.waitFor();
  await minji.waitForFunction(() => document.querySelector("#log img.inline-image")?.naturalWidth > 0);
  assert.equal(await img.evaluate((e) => e.naturalWidth), 160);
  await img.scrollIntoViewIfNeeded();
  await screenshot(minji, "phone-image.png");
  // Declining works from the button too.
  await alice.setInputFiles("#file-input", { name: "later.txt", mimeType: "text/plain", buffer: Buffer.from("later") });
  const third = minji.locator("#log .line.offer", { hasText: "later.txt" });
  await third.locator("button.decline").click();
  await seeLine(alice, "info", "민지 declined your file #3 (later.txt)");

  // On a phone the user list is a drawer behind a button.
  assert.equal(await minji.locator("#side").isVisible(), false);
  await minji.click("#side-toggle");
  await minji.locator("#users .nick", { hasText: "tom" }).waitFor({ state: "visible" });
  await minji.waitForFunction(() => document.getAnimations().length === 0); // the drawer slid in
  await screenshot(minji, "phone-users.png");
  await screenshot(alice, "desktop-files.png");

  for (const page of [alice, minji]) assert.deepEqual(page.consoleErrors, [], "no script errors");
  await alice.context().close();
  await minji.context().close();
  tom.close();
  server.stop();
});

test("a browser dropped by the server reconnects with its resume key and shows what it missed", { timeout: 90_000 }, async () => {
  // Idle users are dropped after 2 s; the page must not send keepalives, or this never happens.
  const server = await startServer(["--idle-timeout", "2"]);
  onCleanup(() => server.stop());
  const tom = await TcpClient.connect(server.addr);
  onCleanup(() => tom.close());
  await tom.login("tom");
  // tom stays active so only the browser goes idle; his own replies go to him alone.
  const keepTomActive = setInterval(() => tom.send("/users"), 500);
  onCleanup(() => clearInterval(keepTomActive));

  const carol = await openPage(browser, server.url);
  await loginPage(carol, "carol");
  await tom.expectStamped("* carol joined");
  const key = await carol.evaluate(() => JSON.parse(localStorage.getItem("reactor-chat.session")).key);
  assert.match(key, /^\S+$/);

  // The server gives up on the silent page and says so; the room sees a lost connection.
  await tom.expectStamped("* carol lost the connection (ping timeout)");
  tom.send("did you miss this?");
  await tom.expectStamped("* carol reconnected");
  await seeLine(carol, "bye", "ping timeout");
  await seeLine(carol, "local", "reconnecting");
  await carol.waitForSelector('body[data-state="online"]');
  // What was missed is replayed and marked.
  await carol.locator("#log .line.chat.missed", { hasText: "did you miss this?" }).waitFor();
  await carol.locator("#log .line.replay-end").waitFor();
  assert.equal(await carol.evaluate(() => JSON.parse(localStorage.getItem("reactor-chat.session")).key), key);
  await screenshot(carol, "desktop-reconnected.png");

  // And it keeps working after the reconnect.
  await carol.fill("#input", "back again");
  await carol.press("#input", "Enter");
  await tom.expectStamped("carol: back again");

  // With the server gone for good, the page says so and keeps trying, backing off.
  clearInterval(keepTomActive);
  server.stop();
  await carol.locator("#status", { hasText: "Reconnecting in" }).waitFor();
  await carol.waitForFunction(() => /attempt [2-9]/.test(document.querySelector("#status").textContent));
  await screenshot(carol, "desktop-reconnecting.png");
  assert.deepEqual(carol.consoleErrors.filter((e) => !/WebSocket/.test(e)), [], "no script errors");
  await carol.context().close();
  tom.close();
  server.stop();
});
