// The web chat page: panes that send text, button presses and photos, and show the desk's
// messages live (Server-Sent Events read with fetch, so a pane can carry its own session
// header). A pane remembers the id of the last message it showed and catches up from there.
"use strict";

const UI = {
  zh: { send: "发送", photo: "图片", placeholder: "输入消息…", live: "已连接", offline: "重新连接中…", as: "身份", file: "文件",
        phone: "手机号码", phoneHint: "网页无法验证手机号：请输入号码，物业工作人员核实后确认。" },
  en: { send: "Send", photo: "Photo", placeholder: "Type a message…", live: "live", offline: "reconnecting…", as: "as", file: "file",
        phone: "Mobile number", phoneHint: "A browser cannot prove a number: type it and our staff confirm it." },
};

function nonce() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Pane {
  constructor(root, cfg) {
    this.cfg = cfg;
    this.lang = (cfg.lang || navigator.language || "zh").startsWith("en") ? "en" : "zh";
    this.ui = UI[this.lang];
    this.chat = cfg.chat;
    this.people = cfg.people; // [{label, token}] (a token of null: the page's cookie)
    this.byId = new Map();
    this.last = null;
    this.root = root;
    this.build();
  }

  build() {
    const root = this.root;
    root.classList.add("pane");
    root.dataset.chat = this.chat;
    const head = el("header", "pane-head");
    head.append(el("strong", "pane-title", this.cfg.title));
    if (this.cfg.hint) head.append(el("div", "pane-hint", this.cfg.hint));
    this.status = el("span", "pane-status", this.ui.offline);
    this.status.dataset.state = "connecting";
    head.append(this.status);
    this.list = el("div", "messages");
    this.list.setAttribute("role", "log");
    this.list.setAttribute("aria-live", "polite");
    const form = el("form", "composer");
    if (this.people.length > 1) {
      const label = el("label", "as", this.ui.as + " ");
      this.who = el("select", "who");
      this.people.forEach((p, i) => this.who.append(new Option(p.label, String(i))));
      label.append(this.who);
      form.append(label);
    }
    this.input = el("input", "text");
    this.input.type = "text";
    this.input.placeholder = this.ui.placeholder;
    this.input.maxLength = 2000;
    const send = el("button", "send", this.ui.send);
    send.type = "submit";
    const pick = el("label", "photo-button", "📷 " + this.ui.photo);
    this.file = el("input", "photo");
    this.file.type = "file";
    this.file.accept = "image/jpeg,image/png,image/webp,image/gif";
    pick.append(this.file);
    form.append(this.input, send, pick);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const words = this.input.value;
      if (!words.trim()) return;
      this.input.value = "";
      this.mine(words);
      this.post({ text: words });
    });
    this.file.addEventListener("change", () => {
      const file = this.file.files[0];
      this.file.value = "";
      if (file) this.upload(file);
    });
    root.replaceChildren(head, this.list, form);
  }

  sender() {
    const index = this.who ? Number(this.who.value) : 0;
    return this.people[index] || this.people[0];
  }

  headers(person, extra) {
    const headers = Object.assign({ "X-Propdesk-Request": "1", "X-Propdesk-Language": this.lang }, extra || {});
    if (person && person.token) headers["X-Propdesk-Session"] = person.token;
    return headers;
  }

  // a pane sends one thing at a time, in the order the person did them
  queue(work) {
    this.sending = (this.sending || Promise.resolve()).then(work, work);
    return this.sending;
  }

  post(body) {
    return this.queue(() => this.postNow(body));
  }

  async postNow(body) {
    body.chat = this.chat;
    body.nonce = nonce();
    const init = {
      method: "POST",
      headers: this.headers(this.sender(), { "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    };
    await this.request("/web/send", init);
  }

  upload(file) {
    return this.queue(() => this.uploadNow(file));
  }

  async uploadNow(file) {
    const shown = el("div", "msg me");
    const img = el("img", "photo");
    img.src = URL.createObjectURL(file);
    img.alt = file.name;
    shown.append(img);
    this.append(shown);
    const url = `/web/photo?chat=${encodeURIComponent(this.chat)}&nonce=${nonce()}`;
    const type = file.type || "application/octet-stream";
    await this.request(url, { method: "POST", headers: this.headers(this.sender(), { "Content-Type": type }), body: file });
  }

  async request(url, init) {
    // the same nonce on a retry: the desk handles a message once, however often it arrives
    for (let attempt = 0; attempt < 3; attempt++) {
      let response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        await sleep(1000 * (attempt + 1));
        continue;
      }
      if (response.ok) return;
      let answer = {};
      try {
        answer = await response.json();
      } catch (error) {}
      if (response.status === 503) {
        await sleep(1000 * (attempt + 1));
        continue;
      }
      this.note(answer.error || `HTTP ${response.status}`);
      return;
    }
    this.note(this.ui.offline);
  }

  mine(words) {
    this.append(el("div", "msg me", words));
  }

  note(words) {
    this.append(el("div", "msg note", words));
  }

  append(node) {
    this.list.append(node);
    this.list.scrollTop = this.list.scrollHeight;
  }

  show(event) {
    let node = this.byId.get(event.id);
    if (node && !event.edit) return; // seen already (a catch-up and the live stream overlap)
    if (!node) {
      node = el("div", "msg desk");
      node.dataset.id = event.id;
      this.byId.set(event.id, node);
      this.append(node);
    }
    node.replaceChildren();
    if (event.text) node.append(el("div", "body", event.text));
    if (event.photo) {
      const img = el("img", "photo");
      img.alt = "photo";
      node.append(img);
      this.picture(img, event.photo);
    }
    if (event.upload) {
      if (event.upload.kind === "photo") {
        const img = el("img", "photo");
        img.src = event.upload.url;
        img.alt = event.upload.filename;
        node.append(img);
      } else {
        const link = el("a", "file", "📎 " + event.upload.filename);
        link.href = event.upload.url;
        link.download = event.upload.filename;
        node.append(link);
      }
    }
    if (event.ask_contact) node.append(this.phoneField(event.ask_contact));
    for (const row of event.buttons || []) {
      const line = el("div", "buttons");
      for (const [label, data] of row) {
        const button = el("button", "choice", label);
        button.type = "button";
        button.addEventListener("click", () => {
          this.mine("▸ " + label);
          this.post({ button: data, message: event.id });
        });
        line.append(button);
      }
      node.append(line);
    }
    this.list.scrollTop = this.list.scrollHeight;
  }

  // Telegram's "share my phone" button: a phone field here (the browser may fill it in)
  phoneField(label) {
    const form = el("form", "contact");
    const input = el("input", "phone");
    input.type = "tel";
    input.autocomplete = "tel";
    input.inputMode = "tel";
    input.maxLength = 40;
    input.placeholder = this.ui.phone;
    const button = el("button", "share", label);
    button.type = "submit";
    form.append(input, button, el("div", "hint", this.ui.phoneHint));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const number = input.value.trim();
      if (!number) return;
      input.value = "";
      this.mine(number);
      this.post({ text: number });
    });
    return form;
  }

  async picture(img, name) {
    try {
      const response = await fetch(`/web/photo/${encodeURIComponent(name)}`, { headers: this.headers(this.people[0]) });
      if (response.ok) img.src = URL.createObjectURL(await response.blob());
    } catch (error) {}
  }

  setState(state) {
    this.status.dataset.state = state;
    this.status.textContent = state === "live" ? this.ui.live : this.ui.offline;
  }

  subscription() {
    return { pane: this.cfg.key, token: this.people[0].token, chat: this.chat, since: this.last };
  }

  receive(event) {
    this.show(event);
    this.last = event.cursor;
  }
}

// One connection for all the panes of the page (a browser keeps only six per server):
// each pane's messages after the last one it showed, then live; reconnects by itself.
async function streamAll(panes) {
  const byKey = new Map(panes.map((pane) => [pane.cfg.key, pane]));
  const state = (value) => panes.forEach((pane) => pane.setState(value));
  for (;;) {
    try {
      const response = await fetch("/web/stream", {
        method: "POST",
        headers: { "X-Propdesk-Request": "1", "Content-Type": "application/json" },
        body: JSON.stringify(panes.map((pane) => pane.subscription())),
        cache: "no-store",
      });
      if (!response.ok) {
        let answer = {};
        try {
          answer = await response.json();
        } catch (error) {}
        panes.forEach((pane) => {
          pane.setState("refused");
          pane.status.textContent = answer.error || `HTTP ${response.status}`;
        });
        await sleep(5000);
        continue;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(": caught up")) {
            state("live");
            continue;
          }
          const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
          if (!data) continue;
          const event = JSON.parse(data);
          const pane = byKey.get(event.pane);
          if (pane) pane.receive(event);
        }
      }
    } catch (error) {}
    state("connecting");
    await sleep(1000);
  }
}

async function skipAhead(minutes, shown) {
  const response = await fetch("/sandbox/skip", {
    method: "POST",
    headers: { "X-Propdesk-Request": "1", "Content-Type": "application/json" },
    body: JSON.stringify({ minutes }),
  });
  const answer = await response.json();
  if (answer.now) shown.textContent = answer.now;
}

// A one-time sign-in link (sent by /web in Telegram or WeChat) ends in "#signin=<token>":
// the token never reaches the server's logs, and only this script can post it (the custom
// header), so a link preview cannot use it up. It is removed from the address at once.
async function signIn(pane) {
  const match = /^#signin=([A-Za-z0-9_-]{1,100})$/.exec(window.location.hash);
  if (!match) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  const response = await fetch("/web/sign-in", {
    method: "POST",
    headers: { "X-Propdesk-Request": "1", "X-Propdesk-Language": pane.lang, "Content-Type": "application/json" },
    body: JSON.stringify({ token: match[1] }),
  });
  if (!response.ok) {
    let answer = {};
    try {
      answer = await response.json();
    } catch (error) {}
    pane.note(answer.error || `HTTP ${response.status}`);
  }
}

window.addEventListener("DOMContentLoaded", async () => {
  const config = JSON.parse(document.getElementById("panes").textContent);
  const grid = document.getElementById("grid");
  window.propdeskPanes = config.panes.map((cfg) => {
    const root = el("section");
    root.id = "pane-" + cfg.key;
    grid.append(root);
    return new Pane(root, cfg);
  });
  await signIn(window.propdeskPanes[0]);
  streamAll(window.propdeskPanes);
  const shown = document.getElementById("desk-time");
  document.querySelectorAll("button[data-skip]").forEach((button) => {
    button.addEventListener("click", () => skipAhead(Number(button.dataset.skip), shown));
  });
});
