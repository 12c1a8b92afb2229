// A local SMTP stand-in on a real TCP port (Bun.listen), speaking enough of RFC 5321 for nodemailer: greeting, EHLO/
// HELO, MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP, QUIT. No TLS. AUTH PLAIN only when started with
// `auth` credentials: then it is advertised, a wrong user or password gets 535, and MAIL before AUTH gets 530;
// without them none is advertised (nodemailer then signs in to nothing and sends in plain text). `down()` stops listening (clients get "connection refused", as with a server that
// is off) and `up()` listens again on the same port: an outage, as SMTP_URL stays the same.
import type { Socket, TCPSocketListener } from "bun";

export type ReceivedMail = { from: string; to: string[]; data: string; subject: string };

export type SmtpStandIn = {
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  /** Every message accepted, in order. */
  received: ReceivedMail[];
  readonly listening: boolean;
  up(): void;
  /** Stops listening (also the way to shut it down at the end of a test). */
  down(): void;
};

type Session = { buffer: string; from: string; to: string[]; data: string[] | null; authed: boolean };

export function startSmtpStandIn(port = 0, opts: { auth?: { user: string; pass: string } } = {}): SmtpStandIn {
  const { auth } = opts;
  const received: ReceivedMail[] = [];
  let listener: TCPSocketListener<Session> | undefined;

  const reply = (socket: Socket<Session>, line: string) => void socket.write(`${line}\r\n`);

  function onLine(socket: Socket<Session>, line: string) {
    const s = socket.data;
    if (s.data) {
      if (line === ".") {
        const data = s.data.join("\r\n");
        const subject = /^Subject: (.*)$/im.exec(data)?.[1] ?? "";
        received.push({ from: s.from, to: s.to, data, subject });
        s.data = null;
        s.from = "";
        s.to = [];
        return reply(socket, "250 2.0.0 OK queued");
      }
      s.data.push(line.startsWith("..") ? line.slice(1) : line);
      return;
    }
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === "EHLO") return reply(socket, `250-standin.test\r\n250-8BITMIME\r\n${auth ? "250-AUTH PLAIN\r\n" : ""}250 SMTPUTF8`);
    if (verb === "AUTH" && auth) {
      const [, mechanism, initial] = line.split(" ");
      const [, user, pass] = Buffer.from(initial ?? "", "base64")
        .toString("utf8")
        .split("\0");
      if (mechanism?.toUpperCase() !== "PLAIN") return reply(socket, "504 5.5.4 Unrecognized authentication type");
      if (user !== auth.user || pass !== auth.pass) return reply(socket, "535 5.7.8 Authentication credentials invalid");
      s.authed = true;
      return reply(socket, "235 2.7.0 Authentication successful");
    }
    if (verb === "MAIL" && auth && !s.authed) return reply(socket, "530 5.7.0 Authentication required");
    if (verb === "HELO") return reply(socket, "250 standin.test");
    if (verb === "MAIL") {
      s.from = /<([^>]*)>/.exec(line)?.[1] ?? "";
      return reply(socket, "250 2.1.0 OK");
    }
    if (verb === "RCPT") {
      s.to.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
      return reply(socket, "250 2.1.5 OK");
    }
    if (verb === "DATA") {
      if (!s.from || !s.to.length) return reply(socket, "503 5.5.1 MAIL and RCPT first");
      s.data = [];
      return reply(socket, "354 End data with <CR><LF>.<CR><LF>");
    }
    if (verb === "RSET") {
      s.from = "";
      s.to = [];
      return reply(socket, "250 2.0.0 OK");
    }
    if (verb === "NOOP") return reply(socket, "250 2.0.0 OK");
    if (verb === "QUIT") {
      reply(socket, "221 2.0.0 Bye");
      return void socket.end();
    }
    reply(socket, "502 5.5.2 Command not implemented");
  }

  const listen = () => {
    listener = Bun.listen<Session>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socket.data = { buffer: "", from: "", to: [], data: null, authed: false };
          reply(socket, "220 standin.test ESMTP");
        },
        data(socket, chunk) {
          socket.data.buffer += chunk.toString("utf8");
          let i: number;
          while ((i = socket.data.buffer.indexOf("\r\n")) >= 0) {
            const line = socket.data.buffer.slice(0, i);
            socket.data.buffer = socket.data.buffer.slice(i + 2);
            onLine(socket, line);
          }
        },
      },
    });
    port = listener.port;
  };
  listen();

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    get listening() {
      return listener !== undefined;
    },
    up() {
      if (!listener) listen();
    },
    down() {
      listener?.stop(true);
      listener = undefined;
    },
  };
}
