// End-to-end tests of the web client in a real headless Chromium: two browsers and a raw TCP
// client chat together, share files (a download and an inline picture), /help is a table of the
// server's commands and the page's own (in English and Korean, on a desktop and a phone), a
// reloaded page shows the room's recent lines again, and a browser that the server drops comes
// back by itself with its resume key without showing twice what it already showed. Run by
// `cargo test` (tests/it/browser.rs) with REACTOR_CHAT_BIN set; screenshots go to
// target/e2e-artifacts/.

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

/** How many log lines of `kind` contain `text`. */
const countLines = (page, kind, text) => page.locator(`#log .line.${kind}`, { hasText: text }).count();

/** Text that only makes sense on a raw connection: typing raw bytes, reading a header line. */
const TELNET_ONLY = /BYTES|=file|raw bytes|바이트/;

/** The usages of the server's `/help` as a terminal reads it: `--   /usage  description`. */
async function serverUsages(tcp) {
  tcp.send("/help");
  await tcp.expect("the help header", (l) => l === "-- Commands:");
  const usages = [];
  await tcp.expect("the end of the help", (l) => {
    if (l.startsWith("--   /")) usages.push(l.slice(5).split(/ {2,}/)[0]);
    return l === "-- End of help.";
  });
  return usages;
}

/** Types `command` and returns the newest help table's rows as [command, description] pairs. */
async function helpTable(page, command, group) {
  const before = await page.locator("#log .line.help").count();
  await page.fill("#input", command);
  await page.press("#input", "Enter");
  const help = page.locator("#log .line.help").nth(before);
  await help.locator("table").waitFor();
  return help.locator(`tbody.${group} tr:has(td)`).evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
}

/** Fails if the newest help table's box is wider than the screen or cannot scroll its table. */
async function assertHelpFits(page, what) {
  await assertFitsWidth(page, what);
  const box = await page.locator("#log .line.help .help-box").last().evaluate((e) => ({
    right: e.getBoundingClientRect().right, overflow: getComputedStyle(e).overflowX,
  }));
  const width = page.viewportSize().width;
  assert.ok(box.right <= width, `${what}: the help box ends at ${box.right} px on a ${width} px screen`);
  assert.equal(box.overflow, "auto", `${what}: the help box must scroll its table sideways`);
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
  // One evaluation finds the name and reads its colour: the list is re-rendered
  // whenever a user list arrives, and an element replaced between finding it and
  // reading it would have no computed style at all.
  const colourOf = (page) => page.evaluate(() => {
    const nick = document.querySelector('#users .nick[data-nick="tom"]');
    return nick ? getComputedStyle(nick).color : "tom is not in the list";
  });
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
  // The offer's own download link, as the page reached the server: no link text in the line.
  const save = offer.locator("a.save");
  const href = await save.getAttribute("href");
  assert.match(href, /^\/files\/1\/notes%201\.bin\?key=[0-9a-z]{16}$/);
  assert.ok(!(await offer.innerText()).includes("http"), "the link text is replaced by the buttons");
  const [saved] = await Promise.all([minji.waitForEvent("download"), save.click()]);
  assert.equal(saved.suggestedFilename(), "notes 1.bin");
  assert.deepEqual(readFileSync(await saved.path()), payload);
  await offer.locator("button.accept").click();
  const link = minji.locator("#log .line.received a.download", { hasText: "notes 1.bin" });
  await link.waitFor();
  assert.equal(await link.getAttribute("download"), "notes 1.bin");
  const [download] = await Promise.all([minji.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "notes 1.bin");
  assert.deepEqual(readFileSync(await download.path()), payload);
  await tom.expect("the offer", (l) => l.includes(`alice offers the file notes 1.bin (${payload.length} B) as #1: http://`) && l.includes("/files/1/notes%201.bin?key="));
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

test("/help is a table of the server's commands and the page's own, without telnet-only text", { timeout: 90_000 }, async () => {
  const server = await startServer();
  onCleanup(() => server.stop());
  const tom = await TcpClient.connect(server.addr);
  onCleanup(() => tom.close());
  await tom.login("tom");
  const usages = await serverUsages(tom);
  assert.ok(usages.includes("/msg NICK text (/whisper, /w)") && usages.includes("/file NAME BYTES"), usages.join("\n"));

  const alice = await openPage(browser, server.url);
  await loginPage(alice, "alice");
  // The welcome tells a browser user what the page does for them, not what to type in a terminal.
  await seeLine(alice, "resume-note", "reconnects by itself");
  assert.doesNotMatch(await alice.locator("#log").textContent(), /log in as|Resume key/);

  const rows = await helpTable(alice, "/help", "help-commands");
  // Every command the server lists, in its order, but the one that wants raw bytes after it.
  assert.deepEqual(rows.map(([usage]) => usage), usages.filter((u) => u !== "/file NAME BYTES"));
  const what = Object.fromEntries(rows);
  assert.equal(what["/msg NICK text (/whisper, /w)"], "whisper to one user, in any room");
  // A description the server wrapped onto more lines is one cell again.
  assert.equal(what["/ban NICK [minutes]"], "operators: kick and keep name and address out (default 10 min)");
  assert.equal(what["/accept-invite [NICK]"], "go where you were invited (the newest invitation, or NICK's)");
  assert.match(what["/accept ID"], /Accept button/);
  const help = alice.locator("#log .line.help").last();
  assert.deepEqual(await help.locator("thead th").allTextContents(), ["Command", "What it does"]);
  const own = Object.fromEntries(await help.locator("tbody.help-page tr:has(td)").evaluateAll((trs) =>
    trs.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent))));
  assert.match(own["File button (paperclip)"], /share files with your room/);
  assert.match(own["Drag and drop"], /drop files anywhere on the page/);
  assert.match(own["Accept, Decline"], /saves it under its own name/);
  assert.match(own["Reconnecting"], /reconnects by itself.*keeps your name for 120\ss/);
  assert.match(await help.locator(".help-note").textContent(), /Any other line is sent to everyone/);
  assert.doesNotMatch(await help.textContent(), TELNET_ONLY);
  await help.locator("table").scrollIntoViewIfNeeded();
  await screenshot(alice, "desktop-help.png");

  // "/?" is the same help; "/help file" points at the button instead of the raw protocol.
  assert.deepEqual(await helpTable(alice, "/?", "help-commands"), rows);
  await alice.fill("#input", "/help file");
  await alice.press("#input", "Enter");
  await seeLine(alice, "info", "/file: in this page, the File button");
  assert.doesNotMatch(await alice.locator("#log .line.info").last().textContent(), TELNET_ONLY);
  // Typed, "/file NAME BYTES" would make the next message the file's bytes: the page refuses it.
  await alice.fill("#input", "/file notes.txt 5");
  await alice.press("#input", "Enter");
  await seeLine(alice, "warn", "Not sent: in this page, share a file with the File button");
  await alice.fill("#input", "still a message");
  await alice.press("#input", "Enter");
  await tom.expectStamped("alice: still a message");

  // On a phone the table fits the screen.
  const bob = await openPage(browser, server.url, PHONE);
  await loginPage(bob, "bob");
  assert.deepEqual(await helpTable(bob, "/help", "help-commands"), rows);
  await assertHelpFits(bob, "the help table on a phone");
  await bob.locator("#log .line.help tbody.help-page").scrollIntoViewIfNeeded();
  await screenshot(bob, "phone-help.png");

  for (const page of [alice, bob]) assert.deepEqual(page.consoleErrors, [], "no script errors");
  await alice.context().close();
  await bob.context().close();
  tom.close();
  server.stop();
});

test("/help and the welcome speak Korean with --lang ko, and the table fits a phone", { timeout: 90_000 }, async () => {
  const server = await startServer(["--lang", "ko"]);
  onCleanup(() => server.stop());
  const minji = await openPage(browser, server.url, PHONE);
  await loginPage(minji, "민지");
  await seeLine(minji, "resume-note", "알아서 다시 연결");
  assert.doesNotMatch(await minji.locator("#log").textContent(), /로그인하면|재접속 키/);

  const rows = await helpTable(minji, "/?", "help-commands");
  const what = Object.fromEntries(rows);
  assert.equal(what["/msg NICK text (/whisper, /w)"], "한 사람에게 귓속말 (어느 방에 있든)");
  assert.equal(what["/accept-invite [NICK]"], "초대받은 방으로 가기 (가장 최근, 또는 NICK의 초대)");
  assert.equal(what["/file NAME BYTES"], undefined);
  assert.match(what["/accept ID"], /Accept 버튼/);
  const help = minji.locator("#log .line.help").last();
  assert.deepEqual(await help.locator("thead th").allTextContents(), ["명령", "하는 일"]);
  assert.deepEqual(await help.locator("tbody th").allTextContents(), ["명령어", "이 페이지에서"]);
  const own = await help.locator("tbody.help-page td.help-command").allTextContents();
  assert.ok(own.includes("File 버튼 (클립)") && own.includes("끌어다 놓기") && own.includes("다시 연결"), own.join(", "));
  assert.doesNotMatch(await help.textContent(), TELNET_ONLY);
  await assertHelpFits(minji, "the Korean help table on a phone");
  await help.locator("table").scrollIntoViewIfNeeded();
  await screenshot(minji, "phone-help-ko.png");

  assert.deepEqual(minji.consoleErrors, [], "no script errors");
  await minji.context().close();
  server.stop();
});

test("a reloaded page shows the room's recent lines, as a fresh login does", { timeout: 60_000 }, async () => {
  const server = await startServer();
  onCleanup(() => server.stop());
  const tom = await TcpClient.connect(server.addr);
  onCleanup(() => tom.close());
  await tom.login("tom");
  const dana = await openPage(browser, server.url);
  await loginPage(dana, "dana");
  await tom.expectStamped("* dana joined");
  tom.send("said before the reload");
  await seeLine(dana, "chat", "said before the reload");
  await dana.fill("#input", "dana too");
  await dana.press("#input", "Enter");
  await tom.expectStamped("dana: dana too");

  await dana.reload();
  await dana.waitForSelector('body[data-state="online"]');
  await tom.expectStamped("* dana reconnected");
  await seeUsers(dana, ["dana", "tom"]);
  // The resumed session's recent lines come back, framed as on a fresh login, before what was missed.
  await seeLine(dana, "chat", "said before the reload");
  await seeLine(dana, "chat", "dana too");
  const texts = await dana.$$eval("#log .line", (els) => els.map((e) => e.textContent));
  const at = (re) => texts.findIndex((t) => re.test(t));
  assert.ok(at(/^Recent lines in lobby/) >= 0, texts.join("\n"));
  assert.ok(at(/^Recent lines in lobby/) < at(/said before the reload/), texts.join("\n"));
  assert.ok(at(/said before the reload/) < at(/End of recent lines/), texts.join("\n"));
  assert.ok(at(/End of recent lines/) < at(/You missed nothing/), texts.join("\n"));
  assert.doesNotMatch(texts.join("\n"), /log in as|Resume key/);
  await screenshot(dana, "desktop-reloaded.png");

  tom.send("and after it");
  await seeLine(dana, "chat", "and after it");
  assert.deepEqual(dana.consoleErrors, [], "no script errors");
  await dana.context().close();
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
  tom.send("theirs before the drop");
  await seeLine(carol, "chat", "theirs before the drop");
  await carol.fill("#input", "mine before the drop");
  await carol.press("#input", "Enter");
  await tom.expectStamped("carol: mine before the drop");
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
  // The room's recent lines the server sent again are on the screen already: shown once, not twice.
  assert.equal(await countLines(carol, "chat", "theirs before the drop"), 1);
  assert.equal(await countLines(carol, "chat", "mine before the drop"), 1);
  assert.equal(await countLines(carol, "info", "Recent lines in lobby"), 1);
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
