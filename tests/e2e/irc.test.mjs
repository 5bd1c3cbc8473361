// IRC on the chat port through a client library reactor-chat did not write: irc-framework, the
// library The Lounge and Kiwi IRC are built on. Its clients register, join #lobby and other
// channels, and talk with a line user (a raw TCP socket speaking the line protocol, as telnet or
// nc would) and with a browser user (headless Chromium): messages, /me, whispers (echoed back to
// a client with echo-message), kicks, topics (and TOPIC's 332/333 answer), WHOIS, a reconnect
// that gets the missed lines with their original times, and a Korean nickname.
// Run by `cargo test` (tests/it/browser.rs) with REACTOR_CHAT_BIN set. A failure prints every
// peer's transcript and the server's log.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import IRC from "irc-framework";
import { TcpClient, WAIT, launchBrowser, loginPage, openPage, screenshot, startServer } from "./support.mjs";

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** The events of irc-framework a test may wait for. */
const EVENTS = [
  "registered", "join", "part", "kick", "quit", "privmsg", "action", "notice", "topic", "topicsetby",
  // "message": any privmsg, action or notice, its kind in `type`.
  "message", "nick", "whois",
  "userlist", "irc error", "socket close",
];

/**
 * One irc-framework client, as an IRC user's program would run it: it negotiates the
 * capabilities it wants (server-time, batch, message-tags among them) and never reconnects by
 * itself, so a test decides when a connection comes back. Every raw line both ways is kept for
 * failure messages, and every event until a test takes it.
 */
class IrcPeer {
  static async connect(server, nick, options = {}) {
    const at = server.addr.lastIndexOf(":");
    const client = new IRC.Client();
    const peer = new IrcPeer(client, nick);
    client.connect({
      host: server.addr.slice(0, at),
      port: Number(server.addr.slice(at + 1)),
      // The same loopback address every time, so a reconnect comes from the address it left.
      outgoing_addr: "127.0.0.1",
      nick,
      username: "rc",
      gecos: nick,
      auto_reconnect: false,
      ...options,
    });
    // Every line as the library split it off the socket, empty ones included (irc-framework
    // drops those before its "raw" event).
    client.connection.transport.on("line", (line) => peer.received.push(line));
    await peer.expect("registration (001)", "registered");
    return peer;
  }

  constructor(client, name) {
    this.client = client;
    this.name = name;
    this.events = [];
    this.lines = [];
    this.received = [];
    this.waiters = [];
    client.on("raw", ({ line, from_server: fromServer }) => {
      this.lines.push(`${fromServer ? "<" : ">"} ${line.replace(/\r?\n$/, "")}`);
    });
    for (const name of EVENTS) {
      client.on(name, (event) => {
        this.events.push({ name, event: event ?? {} });
        for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  /**
   * Waits for an event `name` that `pred` accepts and takes it; events that do not match stay
   * for later calls. Fails after WAIT with the raw transcript.
   */
  async expect(what, name, pred = () => true) {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const at = this.events.findIndex((e) => e.name === name && pred(e.event));
      if (at >= 0) return this.events.splice(at, 1)[0].event;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`IRC client ${this.name}: ${what} never came`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Joins `channel` and waits for the server's JOIN of this client. */
  async join(channel) {
    this.client.join(channel);
    await this.expect(`its own JOIN ${channel}`, "join", (e) => e.nick === this.client.user.nick && e.channel === channel);
  }

  /** A PRIVMSG (not an action) from `nick` to `target` saying exactly `text`. */
  privmsg(nick, target, text) {
    return this.expect(`PRIVMSG ${target} :${text} from ${nick}`, "privmsg",
      (e) => e.nick === nick && e.target === target && e.message === text);
  }

  /** A CTCP ACTION from `nick` to `target`. */
  action(nick, target, text) {
    return this.expect(`ACTION ${target} ${text} from ${nick}`, "action",
      (e) => e.nick === nick && e.target === target && e.message === text);
  }

  /** Drops the TCP connection with a reset, as a crashed laptop or a dead Wi-Fi would. */
  dropConnection() {
    this.client.connection.transport.socket.resetAndDestroy();
  }

  transcript() {
    return `---- IRC client ${this.name} (raw lines) ----\n${this.lines.join("\n")}\n---- end ----`;
  }

  close() {
    if (this.client.connected) this.client.quit("bye");
    else this.client.connection.end();
  }
}

/** A line user (raw TCP, line protocol) whose transcript shows what it sent, too. */
class LineUser extends TcpClient {
  static async login(server, nick) {
    const base = await TcpClient.connect(server.addr);
    const user = Object.setPrototypeOf(base, LineUser.prototype);
    user.nick = nick;
    await user.login(nick);
    return user;
  }

  send(line) {
    this.seen.push(`> ${line}`);
    super.send(line);
  }

  /** Every line before the answer to `/help quit` has been read once this returns. */
  async sync() {
    this.send("/help quit");
    await this.expect("the answer to /help quit", (l) => l.startsWith("-- /quit"));
  }

  transcript() {
    return `---- line user ${this.nick} (> sent, the rest received) ----\n${this.seen.join("\n")}\n---- end ----`;
  }
}

/**
 * Runs `body` against a fresh server (started with `args`): `body` gets the server and a
 * `track` function that registers a peer for cleanup and for the failure report. On failure the
 * error carries every tracked peer's transcript and the server's log.
 */
async function scenario(args, body) {
  const server = await startServer(args);
  const peers = [];
  const track = (peer) => { peers.push(peer); return peer; };
  try {
    await body(server, track);
  } catch (e) {
    const transcripts = peers.filter((p) => p.transcript).map((p) => p.transcript()).join("\n");
    const report = `\n${transcripts}\n---- server log ----\n${server.log()}---- end of server log ----`;
    // The reporter prints the stack, which holds the message as it was when thrown.
    e.message += report;
    if (typeof e.stack === "string") e.stack += report;
    throw e;
  } finally {
    for (const p of peers.reverse()) {
      try { await p.close(); } catch (_) { /* already gone */ }
    }
    server.stop();
  }
}

/** Waits until the page's log has a line of `kind` containing `text`. */
async function seeLine(page, kind, text) {
  await page.locator(`#log .line.${kind}`, { hasText: text }).first().waitFor();
}

async function say(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

test("an irc-framework client chats with a line user and a browser in #lobby and a second channel", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    const page = await openPage(browser, server.url);
    track({ close: () => page.context().close() });
    await loginPage(page, "alice");
    await tom.expectStamped("* alice joined");

    const bob = track(await IrcPeer.connect(server, "bob"));
    const caps = bob.client.network.cap.enabled;
    for (const cap of ["server-time", "batch", "message-tags"]) assert.ok(caps.includes(cap), `${cap} in ${caps}`);
    // IRC users are in no room until they join one; #lobby is where the others are.
    await bob.join("#lobby");
    const names = await bob.expect("the NAMES of #lobby", "userlist", (e) => e.channel === "#lobby");
    assert.deepEqual(names.users.map((u) => u.nick).sort(), ["alice", "bob", "tom"]);
    await tom.expectStamped("* bob joined");
    await seeLine(page, "notice", "bob joined");

    // Line user → IRC and browser; IRC → line user and browser; browser → IRC.
    tom.send("hello from the terminal");
    const fromTom = await bob.privmsg("tom", "#lobby", "hello from the terminal");
    assert.ok(fromTom.time, "server-time tags the live line");
    await seeLine(page, "chat", "hello from the terminal");
    bob.client.say("#lobby", "hello from IRC");
    await tom.expectStamped("bob: hello from IRC");
    await seeLine(page, "chat", "hello from IRC");
    await say(page, "hello from the browser");
    await bob.privmsg("alice", "#lobby", "hello from the browser");
    await tom.expectStamped("alice: hello from the browser");

    // /me both ways: a line user's and a browser's /me is a CTCP ACTION, an ACTION is a /me.
    tom.send("/me waves");
    await bob.action("tom", "#lobby", "waves");
    await say(page, "/me smiles");
    await bob.action("alice", "#lobby", "smiles");
    bob.client.action("#lobby", "dances");
    await tom.expectStamped("* bob dances");
    await seeLine(page, "notice", "bob dances");

    // Whispers both ways, with the line user and with the browser.
    tom.send("/msg bob psst, only you");
    await bob.privmsg("tom", "bob", "psst, only you");
    bob.client.say("tom", "got it");
    await tom.expectStamped("*bob* got it");
    bob.client.say("alice", "a secret for the browser");
    await seeLine(page, "whisper", "a secret for the browser");
    await say(page, "/msg bob and one back");
    await bob.privmsg("alice", "bob", "and one back");

    // A second channel: bob sits in both; tom moves there and back; each room's lines go to
    // its own channel.
    await bob.join("#second");
    tom.send("/join second");
    await bob.expect("tom's JOIN #second", "join", (e) => e.nick === "tom" && e.channel === "#second");
    await tom.expect("the room change", (l) => l === "-- You are now in room second.");
    tom.send("over here in second");
    await bob.privmsg("tom", "#second", "over here in second");
    bob.client.say("#second", "second says hi");
    await tom.expectStamped("bob: second says hi");
    await say(page, "still in the lobby");
    await bob.privmsg("alice", "#lobby", "still in the lobby");
    bob.client.say("#lobby", "only for the lobby");
    await seeLine(page, "chat", "only for the lobby");
    // The server has sent the line to the lobby (the browser has it); tom, in second, got none.
    await tom.sync();
    assert.ok(!tom.seen.some((l) => l.endsWith("bob: only for the lobby")), "a #lobby line reached second");
    tom.send("/join lobby");
    await bob.expect("tom's JOIN #lobby", "join", (e) => e.nick === "tom" && e.channel === "#lobby");
    await screenshot(page, "irc-desktop-chat.png");
    assert.deepEqual(page.consoleErrors, [], "no script errors");
  });
});

test("an IRC room operator kicks a line user from its channel, and the line user lands in the lobby", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    const bob = track(await IrcPeer.connect(server, "bob"));
    await bob.join("#lobby");
    // The first member of a room is its operator.
    await bob.join("#second");
    tom.send("/join second");
    await bob.expect("tom's JOIN #second", "join", (e) => e.nick === "tom" && e.channel === "#second");
    await tom.expect("the room change", (l) => l === "-- You are now in room second.");

    bob.client.raw("KICK", "#second", "tom", "off you go");
    const kick = await bob.expect("the KICK of tom", "kick", (e) => e.kicked === "tom");
    assert.deepEqual([kick.nick, kick.channel, kick.message], ["bob", "#second", "off you go"]);
    await tom.expectStamped("* tom was kicked by bob (off you go)");
    // A line user kicked from a room lands in the lobby, where bob sees it arrive.
    await tom.expect("the move to the lobby", (l) => l === "-- You are now in room lobby.");
    await bob.expect("tom's JOIN #lobby", "join", (e) => e.nick === "tom" && e.channel === "#lobby");
    tom.send("back in the lobby");
    await bob.privmsg("tom", "#lobby", "back in the lobby");
  });
});

/** tom (a server operator: the first user) and bob on IRC, in #lobby and (last joined) #second. */
async function operatorAndIrcUserInTwoRooms(server, track) {
  const tom = track(await LineUser.login(server, "tom"));
  const bob = track(await IrcPeer.connect(server, "bob"));
  await bob.join("#lobby");
  await bob.join("#second");
  await tom.expectStamped("* bob joined");
  return { tom, bob };
}

test("a server operator's /kick ends the IRC client's connection with an ERROR line", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const { tom, bob } = await operatorAndIrcUserInTwoRooms(server, track);
    tom.send("/kick bob that is enough");
    const error = await bob.expect("ERROR from the server", "irc error");
    assert.match(error.reason, /kicked by tom \(that is enough\)/);
    await bob.expect("the server closing the connection", "socket close");
    assert.equal(bob.client.connected, false);
    await tom.expectStamped("* bob was kicked by tom (that is enough)");
    // Every line the server sent is a message: no empty line after the ERROR.
    const empty = bob.received.filter((l) => l.trim() === "").length;
    assert.equal(empty, 0, `${empty} empty line(s) on the wire, last lines ${JSON.stringify(bob.received.slice(-3))}`);
  });
});

test("the operator who kicks an IRC user sitting in several rooms sees the kick once", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const { tom, bob } = await operatorAndIrcUserInTwoRooms(server, track);
    tom.send("/kick bob that is enough");
    await bob.expect("the server closing the connection", "socket close");
    const kicked = "* bob was kicked by tom (that is enough)";
    await tom.expectStamped(kicked);
    await tom.sync();
    const seen = tom.seen.filter((l) => l.slice(8) === kicked).length;
    assert.equal(seen, 1, `tom, in the lobby with bob, saw "${kicked}" ${seen} times`);
  });
});

test("with echo-message an IRC client gets its own whispers back as it sent them, with the server's time", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    // The Lounge turns echo-message on: a client shows its own lines as the server echoes them.
    const bob = track(await IrcPeer.connect(server, "bob", { enable_echomessage: true }));
    assert.ok(bob.client.network.cap.enabled.includes("echo-message"));
    await bob.join("#lobby");

    bob.client.say("#lobby", "to the room");
    const room = await bob.privmsg("bob", "#lobby", "to the room");
    assert.ok(room.time, "a channel echo carries server-time");
    bob.client.say("tom", "a plain whisper");
    await tom.expectStamped("*bob* a plain whisper");
    const plain = await bob.privmsg("bob", "tom", "a plain whisper");
    bob.client.action("tom", "waves at you");
    await tom.expect("the whispered action", (l) => /^\[\d\d:\d\d\] \*bob\* .*waves at you$/.test(l));
    const echo = await bob.expect("the echo of the whispered ACTION", "message",
      (e) => e.nick === "bob" && e.target === "tom" && e.message.includes("waves at you"));
    const wrong = [];
    if (!plain.time) wrong.push("the echo of a whisper has no server-time");
    // An ACTION comes back as an ACTION, not as the line protocol's "* bob waves at you".
    if (echo.type !== "action" || echo.message !== "waves at you") {
      wrong.push(`the echo of a whispered ACTION is a ${echo.type} saying ${JSON.stringify(echo.message)}`);
    }
    assert.deepEqual(wrong, []);
  });
});

test("a topic set by a line user reaches IRC, and one set on IRC reaches line users", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    tom.send("/topic release on friday");
    await tom.expectStamped("* tom set the topic: release on friday");
    const bob = track(await IrcPeer.connect(server, "bob"));
    bob.client.join("#lobby");
    // The topic comes with the join (332).
    await bob.expect("the topic on join", "topic", (e) => e.channel === "#lobby" && e.topic === "release on friday");

    tom.send("/topic release on monday");
    const live = await bob.expect("the TOPIC from tom", "topic", (e) => e.topic === "release on monday");
    assert.deepEqual([live.nick, live.channel], ["tom", "#lobby"]);

    bob.client.setTopic("#lobby", "release is tomorrow");
    await tom.expectStamped("* bob set the topic: release is tomorrow");
    await bob.expect("its own TOPIC back", "topic", (e) => e.nick === "bob" && e.topic === "release is tomorrow");
    tom.send("/topic");
    await tom.expect("the topic asked for", (l) => l.includes("release is tomorrow"));
  });
});

test("TOPIC #lobby tells an IRC client the topic, who set it and when", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    const bob = track(await IrcPeer.connect(server, "bob"));
    await bob.join("#lobby");
    const setAt = Date.now();
    tom.send("/topic release on friday");
    await bob.expect("the TOPIC from tom", "topic", (e) => e.nick === "tom" && e.topic === "release on friday");
    bob.client.raw("TOPIC", "#lobby");
    await bob.expect("332 for TOPIC #lobby", "topic", (e) => !e.nick && e.topic === "release on friday");
    // 333: who set it, and when in Unix seconds.
    const setBy = await bob.expect("333 for TOPIC #lobby", "topicsetby", (e) => e.nick === "tom");
    const when = Number(setBy.when) * 1000;
    assert.ok(when >= setAt - 1000 && when <= Date.now(),
      `333 says the topic was set at ${new Date(when).toISOString()}; it was set at ${new Date(setAt).toISOString()}`);
  });
});

test("WHOIS tells an IRC client how long a user has been idle and when it signed on", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const loginAt = Date.now();
    track(await LineUser.login(server, "tom"));
    const bob = track(await IrcPeer.connect(server, "bob"));
    bob.client.whois("tom");
    const whois = await bob.expect("the WHOIS of tom", "whois", (e) => e.nick === "tom");
    assert.match(String(whois.idle), /^\d+$/, "317 gives the idle seconds");
    // 317 is "<me> <nick> <idle secs> <signon, Unix secs> :seconds idle, signon time".
    const signon = Number(whois.logon) * 1000;
    assert.ok(signon >= loginAt - 1000 && signon <= Date.now(),
      `317's signon is ${JSON.stringify(whois.logon)}; tom logged in at ${new Date(loginAt).toISOString()}`);
  });
});

test("an IRC client that drops its connection comes back with its channels and the missed lines at their times", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    const first = track(await IrcPeer.connect(server, "bob"));
    assert.ok(first.client.network.cap.enabled.includes("server-time"));
    assert.ok(first.client.network.cap.enabled.includes("batch"));
    await first.join("#lobby");
    await first.join("#second");
    await tom.expectStamped("* bob joined");

    // carol stays and sees the lines live, with their times and ids.
    const carol = track(await IrcPeer.connect(server, "carol"));
    await carol.join("#lobby");

    first.dropConnection();
    await tom.expect("bob's lost connection", (l) => /^\[\d\d:\d\d\] \* bob lost the connection/.test(l));
    tom.send("you missed this");
    tom.send("/me waits for bob");
    const live = [
      await carol.privmsg("tom", "#lobby", "you missed this"),
      await carol.action("tom", "#lobby", "waits for bob"),
    ];
    // The clock moves past the lines' times (a millisecond at most), so a replay stamped with
    // the time it is sent could not pass for one stamped with the time the line was said.
    const said = Math.max(...live.map((l) => l.time));
    while (Date.now() <= said) await new Promise((resolve) => setImmediate(resolve));
    const reconnectAt = Date.now();

    const bob = track(await IrcPeer.connect(server, "bob"));
    assert.equal(bob.client.user.nick, "bob", "the nickname is reclaimed, not refused");
    await bob.expect("the JOIN of #lobby", "join", (e) => e.nick === "bob" && e.channel === "#lobby");
    await bob.expect("the JOIN of #second", "join", (e) => e.nick === "bob" && e.channel === "#second");
    const missed = [
      await bob.privmsg("tom", "#lobby", "you missed this"),
      await bob.action("tom", "#lobby", "waits for bob"),
    ];
    for (const [i, line] of missed.entries()) {
      assert.equal(line.batch?.type, "reactor-chat/missed", "the replay is one batch");
      // server-time: the time the line was said, not the time it was replayed.
      const [at, was] = [new Date(line.time).toISOString(), new Date(live[i].time).toISOString()];
      assert.ok(line.time < reconnectAt, `replayed with time ${at}, after the reconnect began at ${new Date(reconnectAt).toISOString()}`);
      assert.equal(at, was, "the replayed line's time is the one it had live");
      assert.equal(line.tags.msgid, live[i].tags.msgid, "the replayed line is the same message");
    }
    await tom.expectStamped("* bob reconnected");
    bob.client.say("#lobby", "thanks, I am back");
    await tom.expectStamped("bob: thanks, I am back");
  });
});

test("a Korean nickname from irc-framework chats with a line user", { timeout: 30_000 }, async () => {
  await scenario([], async (server, track) => {
    const tom = track(await LineUser.login(server, "tom"));
    const minsu = track(await IrcPeer.connect(server, "민수", { username: "minsu" }));
    assert.equal(minsu.client.user.nick, "민수");
    await minsu.join("#lobby");
    await tom.expectStamped("* 민수 joined");
    minsu.client.say("#lobby", "안녕하세요, 여러분");
    await tom.expectStamped("민수: 안녕하세요, 여러분");
    tom.send("반가워요 민수님");
    await minsu.privmsg("tom", "#lobby", "반가워요 민수님");
    tom.send("/msg 민수 비밀 이야기");
    await minsu.privmsg("tom", "민수", "비밀 이야기");
    minsu.client.say("tom", "알겠어요");
    await tom.expectStamped("*민수* 알겠어요");
    minsu.client.action("#lobby", "손을 흔듭니다");
    await tom.expectStamped("* 민수 손을 흔듭니다");
  });
});
