// Bearer-token protection of /ui and /api. A request passes with `Authorization: Bearer <token>`, or with the
// session cookie that a single `?token=<token>` visit sets (HttpOnly, SameSite=Strict), so a browser never keeps
// the token in its history beyond that first redirect. Every comparison is constant-time over SHA-256 digests,
// which also hides the token's length.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export const sessionCookie = "metapilot_session";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

export class TokenAuth {
  private readonly session: string;

  constructor(private readonly token: string) {
    if (!token) throw new Error("the dashboard auth token is empty");
    // The cookie holds a value derived from the token, not the token itself.
    this.session = createHmac("sha256", token).update("metapilot-dashboard-session").digest("hex");
  }

  /**
   * True when the request may go on. Otherwise it has been answered: 401, or a redirect that sets the cookie and
   * drops `token` from the URL.
   */
  check(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const header = req.headers.authorization;
    if (header?.startsWith("Bearer ") && constantTimeEqual(header.slice(7).trim(), this.token)) return true;
    const cookie = readCookie(req, sessionCookie);
    const fromQuery = url.searchParams.get("token");
    if (fromQuery !== null) {
      if (!constantTimeEqual(fromQuery, this.token)) return this.refuse(res);
      res.setHeader(
        "set-cookie",
        `${sessionCookie}=${this.session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200${url.protocol === "https:" ? "; Secure" : ""}`,
      );
      url.searchParams.delete("token");
      res.statusCode = 303;
      res.setHeader("location", url.pathname + (url.search || ""));
      res.setHeader("referrer-policy", "no-referrer");
      res.end();
      return false;
    }
    if (cookie !== undefined && constantTimeEqual(cookie, this.session)) return true;
    return this.refuse(res);
  }

  private refuse(res: ServerResponse): false {
    res.statusCode = 401;
    res.setHeader("www-authenticate", 'Bearer realm="metapilot"');
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.setHeader("cache-control", "no-store");
    res.end(JSON.stringify({ error: "unauthorized: send Authorization: Bearer <token>, or open /ui/?token=<token>" }));
    return false;
  }
}
