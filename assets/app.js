// The reactor-chat web client. It speaks the same line protocol as telnet users (PROTOCOL.md),
// carried over a WebSocket at /ws: each text message from the server holds one or more lines
// ending in "\r\n", and a "=file ID SIZE FROM NAME" line is followed by one binary message with
// the file's bytes. What the user types is sent as is, so every command works as typed text
// (but "/file NAME BYTES", whose raw bytes a text box cannot type: the file button sends files);
// the buttons and lists only type commands on the user's behalf.
//
// Everything the server or other users wrote reaches the page through textContent (never
// innerHTML), so no line can inject markup. No framework and no network beyond the chat server:
// the page is embedded in the server binary and works offline.
"use strict";

(() => {
  // ---------------------------------------------------------------------------------------------
  // Settings
  // ---------------------------------------------------------------------------------------------

  // Reconnect back-off: doubles from the first delay up to the cap. Jitter spreads the clients of
  // a restarted server so they do not all come back in the same instant.
  const RECONNECT_FIRST_MS = 500;
  const RECONNECT_MAX_MS = 30000;
  // File bytes go out in binary messages of this size. The server caps one message at the larger
  // of --max-line (4096 by default) and --max-file, so a chunk of 4 KiB is always accepted, even
  // for a file over --max-file that the server refuses and skips (a whole-file message over the
  // cap would be a protocol error that closes the connection).
  const UPLOAD_CHUNK = 4096;
  // Server lines kept on screen; older ones are removed so a long session stays fast.
  const MAX_LOG_LINES = 2000;
  // Extensions shown inline as pictures when a file arrives; the rest become downloads.
  const IMAGE_TYPES = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp" };
  // Where the nickname and resume key are kept, so a reload or a dropped connection resumes.
  const STORE_KEY = "reactor-chat.session";
  // Rows of the server's /help that describe a raw connection and have no use here: /file wants
  // raw bytes after the line, which a text box cannot type (the page's own rows replace it).
  const TELNET_ONLY = new Set(["/file"]);

  // What the page itself says where the server speaks --lang: the /help table's own rows and the
  // sentences replacing telnet-only text. The language is the server's, read from its replies.
  const TEXTS = {
    en: {
      helpColumns: ["Command", "What it does"],
      pageRows: "In this page",
      // Server rows kept, with a description for this page instead of the raw protocol's.
      rewrite: { "/accept": "receive an offered file, as the Accept button on the offer does" },
      fileHelp: "/file: in this page, the File button (the paperclip) or a file dropped on the page shares it with your room",
      fileTyped: "Not sent: in this page, share a file with the File button (the paperclip) or by dropping it on the page.",
      rows: (grace) => [
        ["File button (paperclip)", "share files with your room: choose one or more; the others get an offer with Accept and Decline buttons"],
        ["Drag and drop", "drop files anywhere on the page to share them the same way"],
        ["Accept, Decline", "answer an offer: an accepted picture (png, jpg, gif, webp) shows in the chat; any other file becomes a link that saves it under its own name"],
        ["Save", "download an offered file straight away through its link, without showing it in the chat"],
        ["Click a name", "start a whisper: /msg NICK is typed for you to finish"],
        ["Click a room", "go to that room; the box under the rooms joins or creates one by name"],
        ["People", "on a narrow screen, opens the rooms and the users of your room"],
        ["\u2191 \u2193", "step through the lines you sent, to send one again"],
        ["Reconnecting", "when the connection drops, the page reconnects by itself, waiting longer between tries " +
          "(Reconnect now tries at once), and shows what you missed; a reload does the same." +
          (grace ? ` The server keeps your name for ${grace}\u00a0s.` : "")],
      ],
      resumeNote: (grace) => "If the connection drops, this page reconnects by itself and keeps your name" +
        (grace ? ` (the server holds it for ${grace}\u00a0s)` : "") + "; a reload does the same.",
    },
    ko: {
      helpColumns: ["명령", "하는 일"],
      pageRows: "이 페이지에서",
      rewrite: { "/accept": "제안된 파일 받기 (제안의 Accept 버튼과 같습니다)" },
      fileHelp: "/file: 이 페이지에서는 File 버튼(클립)을 누르거나 파일을 페이지에 끌어다 놓아 방에 보냅니다",
      fileTyped: "보내지 않았습니다: 이 페이지에서는 File 버튼(클립)을 누르거나 파일을 페이지에 끌어다 놓아 보냅니다.",
      rows: (grace) => [
        ["File 버튼 (클립)", "방에 파일 보내기: 하나 또는 여러 개를 고르면 다른 사람들에게 Accept, Decline 버튼이 달린 제안이 갑니다"],
        ["끌어다 놓기", "파일을 페이지 아무 곳에나 끌어다 놓으면 같은 방식으로 보냅니다"],
        ["Accept, Decline", "제안에 답하기: 받은 그림(png, jpg, gif, webp)은 대화에 바로 보이고, 다른 파일은 원래 이름으로 저장하는 링크가 됩니다"],
        ["Save", "제안된 파일을 대화에 띄우지 않고 그 링크로 바로 내려받기"],
        ["이름 누르기", "귓속말 시작: /msg 대화명 을 입력해 두니 이어서 쓰면 됩니다"],
        ["방 누르기", "그 방으로 이동. 방 목록 아래 칸에 이름을 넣으면 그 방에 들어가거나 새로 만듭니다"],
        ["People", "좁은 화면에서 방 목록과 방 접속자 목록을 엽니다"],
        ["\u2191 \u2193", "보낸 줄을 다시 불러와 또 보내기"],
        ["다시 연결", "연결이 끊기면 페이지가 알아서 다시 연결하고 (시도 간격은 점점 길어지며, Reconnect now 는 바로 시도합니다) " +
          "놓친 대화를 보여 줍니다. 새로 고침해도 마찬가지입니다." + (grace ? ` 서버는 대화명을 ${grace}초 동안 지켜 둡니다.` : "")],
      ],
      resumeNote: (grace) => "연결이 끊기면 이 페이지가 알아서 다시 연결해 대화명을 지킵니다" +
        (grace ? ` (서버가 ${grace}초 동안 맡아 둡니다)` : "") + ". 새로 고침해도 마찬가지입니다.",
    },
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("log"), input: $("input"), send: $("send"), composer: $("composer"),
    fileInput: $("file-input"), dropHint: $("drop-hint"),
    status: $("status"), retry: $("retry"), me: $("me"), roomName: $("room-name"),
    users: $("users"), userCount: $("user-count"), rooms: $("rooms"),
    roomForm: $("room-form"), roomInput: $("room-input"),
    side: $("side"), sideToggle: $("side-toggle"),
    login: $("login"), loginForm: $("login-form"), loginNick: $("login-nick"),
    loginError: $("login-error"), loginButton: $("login-button"),
  };

  // ---------------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------------

  const state = {
    ws: null,
    nick: "",          // our nickname: the one being tried, then the one the server confirmed
    key: "",           // the session's resume key, from "-- Resume key: KEY (...)"
    loggedIn: false,   // the welcome block has ended on this connection
    resuming: false,   // this connection logged in (or is logging in) with the resume key
    everLoggedIn: false,
    lastBye: "",       // the reason in the server's last "-- bye" line, shown at the login form
    stop: "",          // why not to reconnect ("final" bye, session taken elsewhere); "" = do
    attempt: 0,        // reconnect attempts since the last successful login
    retryAt: 0,        // when the pending reconnect fires (for the countdown)
    retryTimer: 0,
    countdown: 0,
    quietUsers: 0,     // "/users" replies to keep out of the log (the page asked, not the user)
    quietRooms: 0,
    refreshTimer: 0,
    inReplay: false,   // between "-- You missed N lines:" and "-- End of missed lines."
    lang: "en",        // the server's --lang, from its welcome: the language of TEXTS
    graceSecs: 0,      // how long the server holds our name after a drop, from the resume key line
    help: null,        // the /help reply being read: { lang, title, rows, notes }
    inRecent: false,   // between "-- Recent lines in ROOM (N lines):" and "-- End of recent lines."
    // This connection resumed the session this page already shows: its recent lines are on the
    // screen already, and only those the page never got are shown (see `alreadyShown`).
    recentSeen: false,
    shown: new Map(),  // the current room's lines on the screen, without stamps -> how many
    shownOrder: [],    // the same lines oldest first, to forget the oldest past MAX_LOG_LINES
    incoming: [],      // "=file" headers waiting for their binary message, oldest first
    offers: new Map(), // offer id -> its line in the log, to mark it when the file arrives
    maxFile: Infinity, // the server's --max-file, once a refusal has told us
    room: "",
    users: [],
    rooms: [],
    history: [],       // lines the user sent, for the arrow keys
    historyAt: 0,
    unread: 0,
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------------

  /** Makes an element; `text` always goes through textContent. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  /** A stable hue for a name, so a person keeps one colour on every screen and every visit. */
  function hueOf(name) {
    let h = 0x811c9dc5; // FNV-1a: cheap and spreads similar names apart
    for (const ch of name.toLowerCase()) {
      h ^= ch.codePointAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % 360;
  }

  /** A name the user can click to whisper to; coloured by its hash. */
  function nickSpan(name, extraClass = "") {
    const span = el("button", { type: "button", class: `nick ${extraClass}`.trim(), text: name, title: `Whisper to ${name}` });
    span.style.setProperty("--hue", hueOf(name));
    span.dataset.nick = name;
    return span;
  }

  /** Text with http(s) links made clickable; the URL is checked, and text stays text. */
  function richText(text) {
    const frag = document.createDocumentFragment();
    const re = /\bhttps?:\/\/[^\s<>"]+/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      frag.append(text.slice(last, m.index));
      frag.append(el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer", text: m[0] }));
      last = m.index + m[0].length;
    }
    frag.append(text.slice(last));
    return frag;
  }

  function humanSize(bytes) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let n = bytes, i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }

  /** Local "[HH:MM]" for lines the page writes itself (the server stamps its own). */
  function localStamp() {
    const d = new Date();
    return `[${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}]`;
  }

  function extensionOf(name) {
    const dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  }

  // ---------------------------------------------------------------------------------------------
  // The session kept in the browser (nickname + resume key)
  // ---------------------------------------------------------------------------------------------

  function loadSession() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved.nick === "string") return saved;
    } catch (_) { /* storage disabled or corrupt: start fresh */ }
    return null;
  }

  function saveSession() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ nick: state.nick, key: state.key }));
    } catch (_) { /* private mode: reconnect still works while the page is open */ }
  }

  function forgetKey() {
    state.key = "";
    saveSession();
  }

  // ---------------------------------------------------------------------------------------------
  // The log: appending lines
  // ---------------------------------------------------------------------------------------------

  /** True when the log is scrolled to (nearly) the bottom: only then do new lines scroll it. */
  function atBottom() {
    const log = ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function append(li) {
    const follow = atBottom();
    if (state.inReplay) li.classList.add("missed");
    ui.log.append(li);
    while (ui.log.childElementCount > MAX_LOG_LINES) ui.log.firstElementChild.remove();
    if (follow) ui.log.scrollTop = ui.log.scrollHeight;
    if (document.hidden && !li.classList.contains("local")) {
      state.unread++;
      document.title = `(${state.unread}) reactor-chat`;
    }
    return li;
  }

  function stampNode(stamp) {
    return el("time", { class: "stamp", text: stamp });
  }

  /** A line the page itself writes (connection status, upload progress): never from the server. */
  function localLine(text, kind = "local") {
    return append(el("li", { class: `line ${kind} local` }, stampNode(localStamp()), " ", el("span", { class: "text", text })));
  }

  // ---------------------------------------------------------------------------------------------
  // Reading server lines
  // ---------------------------------------------------------------------------------------------

  // Lines whose wording depends on --lang: English first, then Korean. Codes, stamps and
  // punctuation are the same in both languages (PROTOCOL.md), so the rest needs no table.
  const RE = {
    prompt: /^(Welcome to reactor-chat! Enter your nickname:|Enter your nickname:|reactor-chat에 오신 것을 환영합니다! 대화명을 입력하세요:|대화명을 입력하세요:)$/,
    resumeKey: /^(?:Resume key|재접속 키): (\S+) \(/,
    users: [/^(\d+) users? in (\S+): (.*)$/, /^(\S+) 방 접속자 (\d+)명: (.*)$/],
    rooms: /^(?:\d+ rooms?|방 \d+개): (.*)$/,
    renamed: /^(?:You are now known as (\S+)|이제 대화명은 (\S+)입니다\.)$/,
    missedStart: /^(?:You missed \d+ lines?|놓친 메시지 \d+줄)/,
    missedEnd: /^(?:End of missed lines\.|놓친 메시지 끝\.)$/,
    tooLarge: /over the limit of (\d+)/,
    resumedElsewhere: /resumed from another connection|다른 연결에서 세션을 이어받았습니다/,
    welcome: /^(?:Welcome, \S+! You are in room \S+\.|\S+님, 환영합니다! 지금 \S+ 방에 있습니다\.)$/,
    welcomeBack: /^(?:Welcome back, \S+! You are in room \S+\.|\S+님, 다시 오셨군요! 지금 \S+ 방에 있습니다\.)$/,
    nowInRoom: /^(?:You are now in room \S+\.|이제 \S+ 방에 있습니다\.)$/,
    grace: /within (\d+) s\b|(\d+)초 안에/,
    recentStart: /^(?:Recent lines in \S+ \(|\S+ 방 최근 대화 \()/,
    recentEnd: /^(?:End of recent lines\.|최근 대화 끝\.)$/,
    // A big room's presence summary, `* 2 joined (tom, dana); 1 left (dana); 2 here`: rebuilt for
    // every backlog, so it differs from the one the page showed, of comings and goings it showed.
    presenceSummary: /^\* \d+(?: joined| left|명 입장|명 퇴장) \(.*; (?:\d+ here|현재 \d+명)$/,
    // The /help reply (PROTOCOL.md, "Other"): a header, then per command a line "--   /usage" with
    // its description two or more spaces after it (or on the next lines), each further line of
    // the description indented further, then a footer and an end line.
    helpStart: /^(?:Commands|명령어):$/,
    helpEnd: /^(?:End of help\.|도움말 끝\.)$/,
    helpEntry: /^ {2}(\/\S*(?: \S+)*)(?: {2,}(\S.*))?$/,
    helpMore: /^ {3,}(\S.*)$/,
    // `/help file`'s answer, `-- /file NAME BYTES: ...`: the command word, the rest of the usage.
    helpFor: /^(\/[a-z-]+)((?: [^:\s]+)*): /,
    // Presence: somebody came, went or changed name; the user and room lists change with it.
    presence: [
      /^\S+ (joined|reconnected|left\b|lost the connection|went to room|is now known as|was kicked by)/,
      /^\S+?님(이 입장|이 재접속|이 퇴장|이 접속이 끊겼|이 \S+ 방으로 이동|의 대화명이|이 \S+님에 의해 강퇴)/,
      // A big room's summary: `37 joined (...); 3 left (...); 5012 here`.
      /^\d+명 (입장|퇴장) \(/,
    ],
  };

  /** Splits one server line into its kind and parts (PROTOCOL.md, "Line grammar"). */
  function parseLine(line) {
    let m;
    if ((m = /^=file (\d+) (\d+) (\S+) (.+)$/.exec(line))) {
      return { kind: "file", id: m[1], size: Number(m[2]), from: m[3], name: m[4] };
    }
    if ((m = /^-- bye (reconnect|final): (.*)$/.exec(line))) return { kind: "bye", how: m[1], text: m[2] };
    if (line.startsWith("-- ")) return { kind: "info", text: line.slice(3) };
    if ((m = /^! ([a-z-]+): (.*)$/.exec(line))) return { kind: "error", code: m[1], text: m[2] };
    if ((m = /^(\[\d\d:\d\d\]) (.*)$/.exec(line))) {
      const stamp = m[1], rest = m[2];
      if ((m = /^\* (.*)$/.exec(rest))) return { kind: "notice", stamp, text: m[1] };
      if ((m = /^\*([^*\s]+)\* (.*)$/.exec(rest))) return { kind: "whisper", stamp, from: m[1], text: m[2] };
      if ((m = /^\[([^\]]*)\] (.*)$/.exec(rest))) return { kind: "scheduled", stamp, marker: m[1], text: m[2] };
      if ((m = /^(\S+?): (.*)$/.exec(rest))) return { kind: "chat", stamp, from: m[1], text: m[2] };
      return { kind: "other", stamp, text: rest };
    }
    return { kind: "other", text: line };
  }

  /** Handles one line from the server: state changes first, then what the log shows. */
  function onLine(line) {
    const p = parseLine(line);
    if (state.help && p.kind !== "info") finishHelp(); // a help reply cut short: show what came
    // A room line (stamped; a history line from another day has its date in the stamp).
    const room = /^\[[\d: -]+\] (.*)$/.exec(line);
    if (room) {
      if (state.inRecent && state.recentSeen && (alreadyShown(room[1]) || RE.presenceSummary.test(room[1]))) return;
      rememberShown(room[1]);
    }
    switch (p.kind) {
      case "file": state.incoming.push(p); return;
      case "bye": return onBye(p, line);
      case "info": return onInfo(p, line);
      case "error": return onError(p);
      case "notice": return onNotice(p);
      case "whisper":
        return append(el("li", { class: "line whisper" }, stampNode(p.stamp), " ",
          el("span", { class: "whisper-mark", text: "whisper from " }), nickSpan(p.from), " ",
          el("span", { class: "text" }, richText(p.text))));
      case "scheduled":
        return append(el("li", { class: "line scheduled" }, stampNode(p.stamp), " ",
          el("span", { class: "marker", text: `[${p.marker}]` }), " ", el("span", { class: "text" }, richText(p.text))));
      case "chat":
        return append(el("li", { class: "line chat" }, stampNode(p.stamp), " ", nickSpan(p.from),
          el("span", { class: "colon", text: ": " }), el("span", { class: "text" }, richText(p.text))));
      default:
        return append(el("li", { class: "line other" }, p.stamp ? stampNode(p.stamp) : null, " ", el("span", { class: "text", text: p.text })));
    }
  }

  function onInfo(p, line) {
    const text = p.text;
    let m;
    if (state.help) return takeHelpLine(text);
    if (RE.helpStart.test(text)) return startHelp(text);
    if (RE.prompt.test(text)) return; // the login form is the prompt
    if (RE.welcomeBack.test(text)) {
      state.recentSeen = state.everLoggedIn; // a reload starts with an empty log: show them all
    } else if (RE.welcome.test(text) || RE.nowInRoom.test(text)) {
      forgetShown(); // another session or another room: its recent lines are new to the page
    }
    if (RE.recentStart.test(text)) {
      state.inRecent = true;
      if (state.recentSeen) return; // the frame around lines already on the screen says nothing new
    }
    if (RE.recentEnd.test(text)) {
      state.inRecent = false;
      const seen = state.recentSeen;
      state.recentSeen = false;
      if (seen) return;
    }
    if ((m = RE.helpFor.exec(text)) && TELNET_ONLY.has(m[1])) {
      return append(el("li", { class: "line info" }, el("span", { class: "text", text: TEXTS[state.lang].fileHelp })));
    }
    if ((m = RE.helpFor.exec(text)) && TEXTS[state.lang].rewrite[m[1]]) {
      return append(el("li", { class: "line info" }, el("span", { class: "text", text: `${m[1]}${m[2]}: ${TEXTS[state.lang].rewrite[m[1]]}` })));
    }
    if ((m = RE.resumeKey.exec(text))) return onLoggedIn(m[1], text);
    if ((m = RE.users[0].exec(text))) return onUsers(m[2], m[3], line);
    if ((m = RE.users[1].exec(text))) return onUsers(m[1], m[3], line);
    if ((m = RE.rooms.exec(text))) return onRooms(m[1], line);
    if ((m = RE.renamed.exec(text))) {
      state.nick = m[1] || m[2];
      showMe();
      saveSession();
    }
    if (RE.missedEnd.test(text)) {
      append(el("li", { class: "line info replay-end", text }));
      state.inReplay = false;
      return;
    }
    if ((m = /^-> \*(\S+?)\* (.*)$/.exec(text))) {
      // Our own whisper, confirmed: shown like a received one, pointing the other way.
      return append(el("li", { class: "line whisper sent" }, stampNode(localStamp()), " ",
        el("span", { class: "whisper-mark", text: "whisper to " }), nickSpan(m[1]), " ", el("span", { class: "text" }, richText(m[2]))));
    }
    const li = append(el("li", { class: "line info" }, el("span", { class: "text" }, richText(text))));
    if (RE.missedStart.test(text)) {
      li.classList.add("replay-start");
      state.inReplay = true; // the lines up to "End of missed lines" are the replay
    }
  }

  function onError(p) {
    if (!state.loggedIn) {
      // A refused login: the server prompts again on the same connection.
      if (state.resuming && p.code.startsWith("nick-")) {
        state.resuming = false;
        forgetKey(); // the key no longer reclaims the name (it expired, or was taken)
      }
      return showLogin(p.text); // shown at the form, not in the chat the user has not joined yet
    }
    const m = p.code === "file-too-large" && RE.tooLarge.exec(p.text);
    if (m) state.maxFile = Number(m[1]); // refuse bigger files before sending them next time
    append(el("li", { class: `line error code-${p.code}` }, el("span", { class: "code", text: `${p.code}: ` }), el("span", { class: "text", text: p.text })));
  }

  function onNotice(p) {
    const li = el("li", { class: "line notice", title: p.text }, stampNode(p.stamp), " ", el("span", { class: "star", text: "* " }));
    // A file offer ends in its download link (": http://HOST/files/3/NAME?key=..."); the
    // buttons replace it. The id is the last "#N" before the link, which names the same id (a
    // file name may hold "#" too).
    const offer = /^(.*#(\d+)): (\S*\/files\/(\d+)\/\S*)$/.exec(p.text);
    const isOffer = offer && offer[2] === offer[4];
    const text = isOffer ? offer[1] : p.text;
    // The actor is the first word (English) or the name before "님" (Korean).
    const who = /^(\S+?)(?=님|\s)/.exec(text);
    if (who) {
      li.append(nickSpan(who[1]));
      li.append(el("span", { class: "text" }, richText(text.slice(who[1].length))));
    } else {
      li.append(el("span", { class: "text" }, richText(text)));
    }
    if (isOffer) {
      li.classList.add("offer");
      addOfferButtons(li, offer[2], offer[3]);
      state.offers.set(offer[2], li);
    } else if (RE.presence.some((re) => re.test(p.text))) {
      li.classList.add("presence");
      refreshLists();
    }
    append(li);
  }

  function onBye(p, line) {
    // The server closes the connection after this line; onClosed decides whether to come back.
    append(el("li", { class: `line bye bye-${p.how}`, title: line }, stampNode(localStamp()), " ",
      el("span", { class: "text", text: `Disconnected by the server: ${p.text}` })));
    state.lastBye = p.text;
    if (p.how === "final") {
      state.stop = "final";
      forgetKey(); // quit, kicked or banned: a reload should not resume
    } else if (RE.resumedElsewhere.test(p.text)) {
      state.stop = "elsewhere"; // coming back would take the session from the other window
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The lines of the room on the screen, so a resumed session's recent lines are not shown twice
  // ---------------------------------------------------------------------------------------------

  // After a reconnect the server sends the room's recent lines up to where the session left off
  // (PROTOCOL.md, "History"): a page that stayed open shows them already, but may have lost the
  // last few that were on their way when the connection died. Each line is counted by its text
  // without the stamp (the page stamps its own messages with its clock, the server with its own),
  // so a line said twice is kept twice and only the copies the page never got are shown.

  const shownKey = (text) => text.replace(/\s+/g, " ").trim();

  function rememberShown(text) {
    const key = shownKey(text);
    state.shown.set(key, (state.shown.get(key) || 0) + 1);
    state.shownOrder.push(key);
    if (state.shownOrder.length > MAX_LOG_LINES) {
      const old = state.shownOrder.shift();
      const n = state.shown.get(old) || 0;
      if (n > 1) state.shown.set(old, n - 1);
      else state.shown.delete(old);
    }
  }

  /** True (and one copy fewer) if the page already shows this line. */
  function alreadyShown(text) {
    const key = shownKey(text);
    const n = state.shown.get(key) || 0;
    if (n === 0) return false;
    if (n > 1) state.shown.set(key, n - 1);
    else state.shown.delete(key);
    return true;
  }

  function forgetShown() {
    state.shown.clear();
    state.shownOrder = [];
  }

  // ---------------------------------------------------------------------------------------------
  // /help as a table
  // ---------------------------------------------------------------------------------------------

  // The server's /help is laid out in columns for an 80-column terminal, which a proportional
  // font turns into a ragged list. The page reads the reply into rows (so the list of commands is
  // always the server's own), leaves out what only a raw connection can use, and adds the ways
  // to do things this page has that a terminal does not.

  function startHelp(text) {
    const lang = /^명령어/.test(text) ? "ko" : "en";
    state.lang = lang;
    state.help = { lang, title: text.replace(/:$/, ""), rows: [], notes: [] };
  }

  function takeHelpLine(text) {
    const help = state.help;
    let m;
    if (RE.helpEnd.test(text)) return finishHelp();
    if ((m = RE.helpEntry.exec(text))) {
      help.rows.push({ usage: m[1], text: m[2] || "" });
    } else if ((m = RE.helpMore.exec(text)) && help.rows.length) {
      const row = help.rows[help.rows.length - 1];
      row.text = row.text ? `${row.text} ${m[1]}` : m[1]; // the server wrapped it at this space
    } else {
      help.notes.push(text); // the footer: how to send plain lines, /help COMMAND
    }
  }

  function finishHelp() {
    const help = state.help;
    state.help = null;
    const texts = TEXTS[help.lang];
    const row = (command, what, isCode) => el("tr", {},
      el("td", { class: "help-command" }, isCode ? el("code", { text: command }) : command),
      el("td", { class: "help-text", text: what }));
    const group = (title, className, rows) => el("tbody", { class: className },
      el("tr", {}, el("th", { colspan: "2", scope: "rowgroup", text: title })), ...rows);
    const commands = help.rows
      .filter((r) => !TELNET_ONLY.has(r.usage.split(" ")[0]))
      .map((r) => row(r.usage, texts.rewrite[r.usage.split(" ")[0]] || r.text, true));
    const table = el("table", { class: "help-table" },
      el("thead", {}, el("tr", {}, ...texts.helpColumns.map((c) => el("th", { scope: "col", text: c })))),
      group(help.title, "help-commands", commands),
      group(texts.pageRows, "help-page", texts.rows(state.graceSecs).map(([c, w]) => row(c, w, false))));
    // The table scrolls sideways in its own box if it must, so it never widens a phone's page.
    const li = el("li", { class: "line help" }, el("div", { class: "help-box" }, table),
      ...help.notes.map((n) => el("p", { class: "help-note", text: n })));
    const follow = atBottom();
    append(li);
    // Taller than the log: show it from its top, where the reader starts.
    if (follow && li.offsetHeight > ui.log.clientHeight) {
      ui.log.scrollTop += li.getBoundingClientRect().top - ui.log.getBoundingClientRect().top;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Login
  // ---------------------------------------------------------------------------------------------

  function showLogin(error = "") {
    document.body.dataset.state = "login";
    ui.login.hidden = false;
    ui.loginError.textContent = error;
    ui.loginButton.disabled = false;
    if (!ui.loginNick.value) ui.loginNick.value = state.nick;
    ui.loginNick.focus();
  }

  function onLogin(event) {
    event.preventDefault();
    const nick = ui.loginNick.value.trim();
    if (!nick) return;
    state.nick = nick;
    state.key = "";
    state.stop = "";
    state.resuming = false;
    ui.loginError.textContent = "";
    ui.loginButton.disabled = true;
    if (state.ws && state.ws.readyState === WebSocket.OPEN && !state.loggedIn) {
      state.ws.send(nick); // the server re-prompted on this connection
    } else {
      connect(nick);
    }
  }

  /** The resume key line ends every welcome block: from here on the user is in. */
  function onLoggedIn(key, text) {
    const named = new RegExp(`"(\\S+) ${key}"`).exec(text);
    if (named) state.nick = named[1];
    state.lang = /^재접속 키/.test(text) ? "ko" : "en";
    const grace = RE.grace.exec(text);
    state.graceSecs = grace ? Number(grace[1] || grace[2]) : 0;
    const firstTime = !state.everLoggedIn;
    state.key = key;
    state.loggedIn = state.everLoggedIn = true;
    state.attempt = 0;
    saveSession();
    showMe();
    ui.login.hidden = true;
    document.body.dataset.state = "online";
    setStatus("online", "Connected");
    ui.input.disabled = ui.send.disabled = false;
    ui.input.focus();
    // The line's instruction (log in as "NICK KEY" from any address) is for a terminal; this page
    // keeps the key and reconnects by itself, so it says that instead.
    if (firstTime) append(el("li", { class: "line info dim resume-note", text: TEXTS[state.lang].resumeNote(state.graceSecs) }));
    refreshLists(0);
  }

  function showMe() {
    ui.me.textContent = state.nick;
    ui.me.style.setProperty("--hue", hueOf(state.nick));
  }

  // ---------------------------------------------------------------------------------------------
  // The connection and reconnecting
  // ---------------------------------------------------------------------------------------------

  function setStatus(kind, text) {
    ui.status.dataset.kind = kind;
    ui.status.textContent = text;
    ui.retry.hidden = kind !== "reconnecting" && kind !== "offline";
  }

  /** Opens a WebSocket and sends the login line as soon as it is open. */
  function connect(loginLine) {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdown);
    // A socket still opening (the user logged in by hand mid-reconnect) is dropped; its late
    // events are ignored because it is no longer state.ws.
    if (state.ws) state.ws.close();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    ws.binaryType = "blob";
    state.ws = ws;
    state.loggedIn = false;
    state.incoming = [];
    state.quietUsers = state.quietRooms = 0;
    state.inReplay = false;
    state.help = null;
    state.inRecent = state.recentSeen = false;
    state.lastBye = "";
    setStatus("connecting", state.everLoggedIn ? "Reconnecting…" : "Connecting…");
    ws.onopen = () => ws.send(loginLine);
    ws.onmessage = (event) => {
      if (ws !== state.ws) return;
      if (typeof event.data === "string") {
        for (const line of event.data.split("\r\n")) if (line) onLine(line);
      } else {
        onFileBytes(event.data);
      }
    };
    ws.onclose = () => {
      if (ws === state.ws) onClosed();
    };
  }

  function onClosed() {
    const wasIn = state.loggedIn;
    state.ws = null;
    state.loggedIn = false;
    ui.input.disabled = ui.send.disabled = true;
    if (state.stop || !state.key) {
      // Nothing to resume, or resuming would be wrong: the user decides what happens next.
      setStatus("offline", state.stop === "elsewhere" ? "Opened in another window" : "Disconnected");
      if (!state.key && state.stop !== "elsewhere") showLogin(state.lastBye || "The connection closed; try again.");
      document.body.dataset.state = state.key || state.stop === "elsewhere" ? "offline" : "login";
      return;
    }
    if (wasIn) localLine("Connection lost; reconnecting…", "local warn");
    scheduleReconnect();
  }

  /** Exponential back-off with jitter, then "NICK KEY" reclaims the session and its missed lines. */
  function scheduleReconnect() {
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** state.attempt);
    const delay = base / 2 + Math.random() * base / 2;
    state.attempt++;
    state.retryAt = Date.now() + delay;
    document.body.dataset.state = "reconnecting";
    const tick = () => {
      const secs = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      setStatus("reconnecting", `Reconnecting in ${secs} s (attempt ${state.attempt})`);
    };
    tick();
    clearInterval(state.countdown);
    state.countdown = setInterval(tick, 1000); // display only: nothing is sent while waiting
    state.retryTimer = setTimeout(reconnectNow, delay);
  }

  function reconnectNow() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdown);
    if (state.ws) return;
    state.stop = "";
    if (!state.key) return showLogin();
    state.resuming = true;
    connect(`${state.nick} ${state.key}`);
  }

  /** Sends one message; false (and a note in the log) when there is no connection to send on. */
  function send(text) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN || !state.loggedIn) {
      localLine("Not connected; nothing was sent.", "local warn");
      return false;
    }
    state.ws.send(text);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Users and rooms
  // ---------------------------------------------------------------------------------------------

  /**
   * Asks for the user and room lists, quietly: their replies update the side panel without
   * appearing in the chat. Called after login and after every presence notice (debounced, so a
   * burst of notices or a replay costs one request). Never on a timer: a client that is idle
   * sends nothing, so the server's idle timeout means what it says.
   */
  function refreshLists(delay = 150) {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => {
      if (!state.loggedIn) return;
      state.quietUsers++;
      state.quietRooms++;
      state.ws.send("/users\n/rooms");
    }, delay);
  }

  /** `-- 3 users in lobby: alice (op), bob (away), carol` */
  function onUsers(room, list, line) {
    state.room = room;
    ui.roomName.textContent = room;
    state.users = [...list.matchAll(/([^\s,()]+)(?: \(([^)]*)\))?(?:, |$)/g)].map((m) => ({
      nick: m[1],
      tags: m[2] ? m[2].split(", ") : [],
    }));
    renderUsers();
    renderRooms(); // the current room is marked in the room list
    if (state.quietUsers > 0) state.quietUsers--;
    else append(el("li", { class: "line info" }, el("span", { class: "text", text: line.slice(3) })));
  }

  function renderUsers() {
    ui.users.replaceChildren(...state.users.map((u) => {
      const li = el("li", {}, nickSpan(u.nick, u.nick === state.nick ? "self" : ""));
      for (const tag of u.tags) li.append(" ", el("span", { class: "tag", text: tag }));
      if (u.nick === state.nick) li.append(" ", el("span", { class: "tag you", text: "you" }));
      return li;
    }));
    ui.userCount.textContent = `(${state.users.length})`;
    ui.sideToggle.textContent = `People (${state.users.length})`;
  }

  /** `-- 2 rooms: games (2), lobby (5)` */
  function onRooms(list, line) {
    state.rooms = [...list.matchAll(/([^\s,()]+) \((\d+)\)/g)].map((m) => ({ name: m[1], count: Number(m[2]) }));
    renderRooms();
    if (state.quietRooms > 0) state.quietRooms--;
    else append(el("li", { class: "line info" }, el("span", { class: "text", text: line.slice(3) })));
  }

  function renderRooms() {
    ui.rooms.replaceChildren(...state.rooms.map((r) => {
      const here = r.name.toLowerCase() === state.room.toLowerCase();
      const button = el("button", { type: "button", class: here ? "room here" : "room", title: here ? "You are here" : `Join ${r.name}` },
        el("span", { class: "room-name", text: r.name }), el("span", { class: "count", text: String(r.count) }));
      button.dataset.room = r.name;
      if (here) button.setAttribute("aria-current", "true");
      return el("li", {}, button);
    }));
  }

  function joinRoom(room) {
    if (room && room.toLowerCase() !== state.room.toLowerCase()) send(`/join ${room}`);
    closeSide();
  }

  /** Clicking a name starts a whisper: the command is typed for the user, who finishes it. */
  function whisperTo(nick) {
    if (nick === state.nick) return;
    ui.input.value = `/msg ${nick} `;
    ui.input.focus();
    closeSide();
  }

  // ---------------------------------------------------------------------------------------------
  // Files
  // ---------------------------------------------------------------------------------------------

  function addOfferButtons(li, id, link) {
    const accept = el("button", { type: "button", class: "accept", text: "Accept" });
    // The link as this page reached the server (its path and key), so it works behind a proxy
    // whatever address the server wrote into it.
    let path = link;
    try { const u = new URL(link, location.href); path = u.pathname + u.search; } catch (_) { /* kept as sent */ }
    const save = el("a", { href: path, download: "", class: "save", text: "Save" });
    const decline = el("button", { type: "button", class: "decline", text: "Decline" });
    accept.onclick = () => {
      if (send(`/accept ${id}`)) { accept.disabled = decline.disabled = true; accept.textContent = "Receiving…"; }
    };
    decline.onclick = () => {
      if (send(`/decline ${id}`)) { accept.disabled = decline.disabled = true; decline.textContent = "Declined"; }
    };
    li.append(el("span", { class: "offer-actions" }, accept, save, decline));
  }

  /**
   * Shares a file with the room: the "/file NAME SIZE" line, then exactly SIZE bytes in binary
   * messages. The server answers "-- Offered #ID ..." (or a refusal such as "! file-too-large").
   */
  function shareFile(file) {
    const name = file.name.replace(/[\r\n]+/g, " ").trim() || "file";
    if (file.size === 0) return localLine(`${name} is empty; nothing to share.`, "local warn");
    if (file.size > state.maxFile) {
      return localLine(`${name} (${humanSize(file.size)}) is over the server's limit of ${humanSize(state.maxFile)}.`, "local warn");
    }
    if (!send(`/file ${name} ${file.size}`)) return;
    for (let at = 0; at < file.size; at += UPLOAD_CHUNK) {
      state.ws.send(file.slice(at, Math.min(file.size, at + UPLOAD_CHUNK)));
    }
    localLine(`Sending ${name} (${humanSize(file.size)})…`);
  }

  /** The binary message after a "=file" header: shown inline if a picture, else a download. */
  function onFileBytes(blob) {
    const header = state.incoming.shift();
    if (!header) return; // bytes without a header: nothing to name them by
    const type = IMAGE_TYPES[extensionOf(header.name)];
    const url = URL.createObjectURL(type ? new Blob([blob], { type }) : blob);
    const link = el("a", { href: url, download: header.name, class: "download", text: header.name });
    const li = el("li", { class: "line received" }, stampNode(localStamp()), " ", nickSpan(header.from),
      el("span", { class: "text", text: " sent " }), link, el("span", { class: "size", text: ` (${humanSize(header.size)})` }));
    if (type) {
      const img = el("img", { src: url, alt: header.name, class: "inline-image" });
      const follow = atBottom();
      img.onload = () => { if (follow) ui.log.scrollTop = ui.log.scrollHeight; };
      li.append(el("a", { href: url, target: "_blank", rel: "noopener", class: "image-link" }, img));
    }
    append(li);
    const offer = state.offers.get(header.id);
    if (offer) {
      offer.classList.add("taken");
      const accept = offer.querySelector(".accept");
      if (accept) accept.textContent = "Received";
    }
  }

  function setUpDragAndDrop() {
    let depth = 0; // dragenter/dragleave fire for every child; count to know when it really left
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    window.addEventListener("dragenter", (e) => {
      if (!hasFiles(e)) return;
      depth++;
      ui.dropHint.hidden = !state.loggedIn;
    });
    window.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; ui.dropHint.hidden = true; } });
    window.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault(); // or the browser navigates away to the file
      depth = 0;
      ui.dropHint.hidden = true;
      for (const file of e.dataTransfer.files) shareFile(file);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Typing and sending
  // ---------------------------------------------------------------------------------------------

  /**
   * Sends exactly what was typed. The server does not echo a user's own messages, so the page
   * shows them itself: plain text, "//text" (a message starting with "/") and "/me".
   */
  function onSubmit(event) {
    event.preventDefault();
    const text = ui.input.value;
    if (!text.trim()) return;
    // "/file NAME BYTES" wants raw bytes after the line: typed here, the server would take the
    // next messages as the file. The buttons and drag and drop send files.
    if (/^\/file(\s|$)/i.test(text)) {
      ui.input.value = "";
      return localLine(TEXTS[state.lang].fileTyped, "local warn");
    }
    if (!send(text)) return;
    state.history.push(text);
    state.historyAt = state.history.length;
    ui.input.value = "";
    let m;
    if (!text.startsWith("/") || text.startsWith("//")) {
      const said = text.startsWith("//") ? text.slice(1) : text;
      rememberShown(`${state.nick}: ${said}`); // as the room's recent lines will show it
      append(el("li", { class: "line chat mine" }, stampNode(localStamp()), " ", nickSpan(state.nick, "self"),
        el("span", { class: "colon", text: ": " }), el("span", { class: "text" }, richText(said))));
    } else if ((m = /^\/me (.+)$/i.exec(text))) {
      rememberShown(`* ${state.nick} ${m[1]}`);
      append(el("li", { class: "line notice mine" }, stampNode(localStamp()), " ", el("span", { class: "star", text: "* " }),
        nickSpan(state.nick, "self"), el("span", { class: "text", text: ` ${m[1]}` })));
    }
  }

  /** Up and down walk through what was sent, as in a terminal. */
  function onInputKey(event) {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    if (!state.history.length) return;
    event.preventDefault();
    const step = event.key === "ArrowUp" ? -1 : 1;
    state.historyAt = Math.max(0, Math.min(state.history.length, state.historyAt + step));
    ui.input.value = state.history[state.historyAt] ?? "";
  }

  // ---------------------------------------------------------------------------------------------
  // Layout: the side panel is a drawer on narrow screens
  // ---------------------------------------------------------------------------------------------

  function toggleSide() {
    const open = !document.body.classList.contains("side-open");
    document.body.classList.toggle("side-open", open);
    ui.sideToggle.setAttribute("aria-expanded", String(open));
    if (open && state.loggedIn) refreshLists(0); // counts in other rooms change unseen
  }

  function closeSide() {
    document.body.classList.remove("side-open");
    ui.sideToggle.setAttribute("aria-expanded", "false");
  }

  // ---------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------

  function start() {
    ui.loginForm.addEventListener("submit", onLogin);
    ui.composer.addEventListener("submit", onSubmit);
    ui.input.addEventListener("keydown", onInputKey);
    ui.fileInput.addEventListener("change", () => {
      for (const file of ui.fileInput.files) shareFile(file);
      ui.fileInput.value = ""; // the same file may be chosen again
    });
    ui.retry.addEventListener("click", () => {
      state.attempt = 0;
      reconnectNow();
    });
    ui.sideToggle.addEventListener("click", toggleSide);
    ui.roomForm.addEventListener("submit", (e) => {
      e.preventDefault();
      joinRoom(ui.roomInput.value.trim());
      ui.roomInput.value = "";
    });
    // One listener for every name and room on the page, wherever they are.
    document.addEventListener("click", (e) => {
      const nick = e.target.closest("button.nick");
      if (nick) return whisperTo(nick.dataset.nick);
      const room = e.target.closest("button.room");
      if (room) joinRoom(room.dataset.room);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { state.unread = 0; document.title = "reactor-chat"; }
    });
    setUpDragAndDrop();

    // A saved session resumes at once (a reload keeps the name and shows what was missed).
    const saved = loadSession();
    if (saved) {
      state.nick = saved.nick;
      ui.loginNick.value = saved.nick;
      if (saved.key) {
        state.key = saved.key;
        state.resuming = true;
        ui.login.hidden = true;
        document.body.dataset.state = "reconnecting";
        return connect(`${saved.nick} ${saved.key}`);
      }
    }
    showLogin();
  }

  start();
})();
