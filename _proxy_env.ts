// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Which way a request goes: the `proxy` option checked and normalised, the
 * proxy variables of the environment read without ever throwing or prompting,
 * `NO_PROXY` matching, and the route for one URL (direct, a proxy, a Unix
 * socket) with a display string that never carries credentials.
 *
 * `NO_PROXY` follows Go's `golang.org/x/net/http/httpproxy` rules, with two
 * differences taken from Deno's built-in `fetch`: a leading dot also matches
 * the domain itself (`.example.com` covers `example.com`), and loopback hosts
 * (`localhost`, `127.0.0.1`, `::1`) are proxied unless `NO_PROXY` says
 * otherwise. Names are compared as written, never resolved.
 *
 * @example Route a URL through the environment's proxy
 * ```ts ignore
 * const router = proxyRouter(undefined, {
 *   vars: { https_proxy: "http://user:pw@proxy:3128", no_proxy: ".internal" },
 *   cgi: false,
 * });
 * router.routeFor(new URL("https://example.com/")).display; // "http://proxy:3128"
 * router.routeFor(new URL("https://api.internal/")).display; // "direct"
 * ```
 *
 * @module
 */

import { parseNoProxy } from "./_no_proxy.ts";

/** Credentials for a proxy, as `Deno.createHttpClient` takes them. */
export interface BasicAuth {
  /** The user name. */
  username: string;
  /** The password. */
  password: string;
}

/** The schemes a proxy URL may have, without the colon. */
export type ProxyProtocol = "http" | "https" | "socks5" | "socks5h";

const DEFAULT_PORTS: Record<ProxyProtocol, number> = {
  http: 80,
  https: 443,
  socks5: 1080,
  socks5h: 1080,
};

const encoder = new TextEncoder();

/**
 * A proxy: where it listens, how to speak to it, and its credentials. The
 * credentials live in private fields: they are not enumerable, not shown by
 * `console.log` or `Deno.inspect`, and not in `JSON.stringify`, all of which
 * show {@linkcode ProxyEndpoint.display}.
 */
export class ProxyEndpoint {
  /** How to speak to the proxy. */
  readonly protocol: ProxyProtocol;
  /** Host name or IP address, IPv6 without brackets. */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
  /** `scheme://host:port`, never with credentials. */
  readonly display: string;
  #username: string | undefined;
  #password: string | undefined;

  /** Creates the endpoint; `credentials` may be undefined. */
  constructor(
    protocol: ProxyProtocol,
    hostname: string,
    port: number,
    credentials: BasicAuth | undefined,
  ) {
    this.protocol = protocol;
    this.hostname = hostname;
    this.port = port;
    this.display = `${protocol}://${bracketed(hostname)}:${port}`;
    this.#username = credentials?.username;
    this.#password = credentials?.password;
  }

  /** Whether credentials were given. */
  get hasCredentials(): boolean {
    return this.#username !== undefined;
  }

  /** The credentials, for the SOCKS5 handshake (RFC 1929). */
  credentials(): BasicAuth | undefined {
    return this.#username === undefined
      ? undefined
      : { username: this.#username, password: this.#password ?? "" };
  }

  /**
   * The `Proxy-Authorization` field value (RFC 9110 §11.7.2) for the Basic
   * scheme (RFC 7617, UTF-8), or undefined without credentials.
   */
  authorization(): string | undefined {
    if (this.#username === undefined) return undefined;
    const bytes = encoder.encode(`${this.#username}:${this.#password ?? ""}`);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return `Basic ${btoa(binary)}`;
  }

  /** The display string. */
  toString(): string {
    return this.display;
  }

  /** The display string, so `JSON.stringify` shows no credentials. */
  toJSON(): string {
    return this.display;
  }

  /** What `console.log` and `Deno.inspect` show. */
  [Symbol.for("Deno.customInspect")](): string {
    return `ProxyEndpoint(${this.display})`;
  }
}

/**
 * A proxy refused a connection or could not make it. Carried as the `cause`
 * of a `FetchError` with code `PROXY_FAILED` or `PROXY_AUTH`; the retry
 * policy reads {@linkcode ProxyRefusal.retryable}.
 */
export class ProxyRefusal extends Error {
  /** Which handshake was refused. */
  readonly protocol: "http" | "socks5";
  /**
   * The HTTP status of the answer to CONNECT, or the SOCKS5 reply code
   * (RFC 1928 §6); 0 when the proxy refused authentication.
   */
  readonly status: number;
  /**
   * Whether nothing reached the origin and the proxy may succeed later (502,
   * 503 or 504 on CONNECT; a SOCKS5 failure to reach the host): the request
   * may be sent again, with backoff, drawing on the retry budget.
   */
  readonly retryable: boolean;

  /** Creates the refusal. */
  constructor(
    message: string,
    init: { protocol: "http" | "socks5"; status: number; retryable: boolean },
  ) {
    super(message);
    this.name = "ProxyRefusal";
    this.protocol = init.protocol;
    this.status = init.status;
    this.retryable = init.retryable;
  }
}

/** The way to an origin. */
export type Route =
  | {
    /** Straight to the origin (or through the `connect` dialer). */
    kind: "direct";
    /** `"direct"`. */
    display: string;
  }
  | {
    /** Through a proxy. */
    kind: "proxy";
    /** The proxy. */
    proxy: ProxyEndpoint;
    /** Where the proxy came from: `"proxy"` (the option) or a variable. */
    source: string;
    /** The proxy URL without credentials. */
    display: string;
  }
  | {
    /** To a Unix socket, whatever the URL's host. */
    kind: "unix";
    /** Absolute path of the socket. */
    path: string;
    /** `unix:<path>`. */
    display: string;
  }
  | {
    /** A proxy variable of the environment is not a usable proxy URL. */
    kind: "invalid";
    /** `invalid <VARIABLE>`. */
    display: string;
    /** What is wrong with it, credentials removed. */
    reason: string;
  };

const DIRECT: Route = Object.freeze({ kind: "direct", display: "direct" });

// ---- the option ----------------------------------------------------------

/** The `proxy` option, checked. */
export type ProxySetting =
  | { kind: "env" }
  | { kind: "none" }
  | { kind: "unix"; path: string }
  | { kind: "proxy"; proxy: ProxyEndpoint };

function optionError(
  name: string,
  expected: string,
  shown: string,
  range = false,
): never {
  const message =
    `Cannot create client as '${name}' must be ${expected}: current value is ${shown}`;
  throw range ? new RangeError(message) : new TypeError(message);
}

/** A value for an error message; strings quoted, objects by their keys. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const keys = Object.keys(value);
    return keys.length === 0
      ? "an empty object"
      : `an object with keys ${keys.join(", ")}`;
  }
  return String(value);
}

/**
 * Hides what may be credentials in something that may be a URL, for
 * messages: everything up to the last `@`, the scheme aside. The value may
 * have failed to parse, so the URL parser cannot be trusted to find them.
 */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i, "$1***@");
}

/** `an object with username <type> and password <type>`, never the values. */
function describeFields(basic: Record<string, unknown>): string {
  const user = typeof basic.username;
  const pass = typeof basic.password;
  return `an object with username ${user} and password ${pass}`;
}

function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) ||
    path.startsWith("\\\\");
}

/**
 * Checks the `proxy` option and normalises it.
 *
 * @throws {TypeError} A value of the wrong shape, a malformed URL, an
 * unsupported scheme, a relative socket path.
 * @throws {RangeError} A SOCKS5 user name or password over 255 bytes.
 */
export function parseProxyOption(value: unknown): ProxySetting {
  if (value === undefined) return { kind: "env" };
  if (value === false) return { kind: "none" };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    optionError(
      "proxy",
      '{ url, basicAuth? }, { transport: "unix", path } or false',
      show(value),
    );
  }
  const record = value as Record<string, unknown>;
  if ("transport" in record) {
    if (record.transport !== "unix") {
      optionError("proxy.transport", '"unix"', show(record.transport));
    }
    const path = record.path;
    if (typeof path !== "string" || path === "") {
      optionError("proxy.path", "a non-empty string", show(path));
    }
    if (!isAbsolutePath(path) || path.includes("\0")) {
      optionError("proxy.path", "an absolute path", show(path));
    }
    return { kind: "unix", path };
  }
  if (typeof record.url !== "string") {
    optionError(
      "proxy.url",
      "a string (an http:, https:, socks5: or socks5h: URL)",
      show(record.url),
    );
  }
  let auth: BasicAuth | undefined;
  if (record.basicAuth !== undefined) {
    const basic = record.basicAuth as Record<string, unknown> | null;
    if (
      typeof basic !== "object" || basic === null ||
      typeof basic.username !== "string" || typeof basic.password !== "string"
    ) {
      // Never the value itself: it may hold the password.
      const shown = typeof basic === "string"
        ? "a string"
        : basic === null || typeof basic !== "object"
        ? show(basic)
        : describeFields(basic);
      optionError(
        "proxy.basicAuth",
        "{ username: string, password: string }",
        shown,
      );
    }
    auth = { username: basic.username, password: basic.password };
  }
  const parsed = parseProxyUrl(record.url, false);
  if (typeof parsed === "string") {
    optionError("proxy.url", parsed, JSON.stringify(redactUrl(record.url)));
  }
  const credentials = auth ?? parsed.credentials;
  const problem = credentials === undefined
    ? undefined
    : credentialProblem(parsed.protocol, credentials);
  if (problem !== undefined) {
    if (auth !== undefined) {
      optionError(
        `proxy.basicAuth.${problem.field}`,
        problem.requirement,
        problem.actual,
        problem.range,
      );
    }
    optionError(
      "proxy.url",
      `a URL whose ${problem.field} is ${problem.requirement}`,
      `a URL whose ${problem.field} is ${problem.actual}`,
      problem.range,
    );
  }
  return {
    kind: "proxy",
    proxy: new ProxyEndpoint(
      parsed.protocol,
      parsed.hostname,
      parsed.port,
      credentials,
    ),
  };
}

/** What is wrong with credentials for a proxy of `protocol`, if anything. */
interface CredentialProblem {
  /** Which part. */
  field: "username" | "password";
  /** What it must be. */
  requirement: string;
  /** What it is, without showing it. */
  actual: string;
  /** A length out of range (RangeError) rather than a wrong form. */
  range: boolean;
}

function credentialProblem(
  protocol: ProxyProtocol,
  { username, password }: BasicAuth,
): CredentialProblem | undefined {
  if (protocol === "socks5" || protocol === "socks5h") {
    // RFC 1929 §2: one length byte each; a user name is never empty.
    const user = encoder.encode(username).length;
    if (user < 1 || user > 255) {
      return {
        field: "username",
        requirement: "1 to 255 bytes long for a SOCKS5 proxy (RFC 1929)",
        actual: `${user} bytes long`,
        range: true,
      };
    }
    const pass = encoder.encode(password).length;
    if (pass > 255) {
      return {
        field: "password",
        requirement: "at most 255 bytes long for a SOCKS5 proxy (RFC 1929)",
        actual: `${pass} bytes long`,
        range: true,
      };
    }
    return undefined;
  }
  // RFC 7617 §2: the user-id of Basic authentication cannot contain a colon.
  if (username.includes(":")) {
    return {
      field: "username",
      requirement: "free of ':' for Basic authentication (RFC 7617)",
      actual: "a name with ':'",
      range: false,
    };
  }
  return undefined;
}

interface ParsedProxyUrl {
  protocol: ProxyProtocol;
  hostname: string;
  port: number;
  credentials: BasicAuth | undefined;
}

/**
 * Parses a proxy URL; returns what it must be, as a message part, when it
 * is not usable. With `fromEnv`, a value without `://` is taken as
 * `http://<value>`, as Go and curl do.
 */
function parseProxyUrl(
  text: string,
  fromEnv: boolean,
): ParsedProxyUrl | string {
  const trimmed = fromEnv ? text.trim() : text;
  const withScheme = fromEnv && !trimmed.includes("://")
    ? `http://${trimmed}`
    : trimmed;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return "a valid URL";
  }
  const protocol = url.protocol.slice(0, -1);
  if (!(protocol in DEFAULT_PORTS)) {
    return "an http:, https:, socks5: or socks5h: URL";
  }
  // socks5: URLs are not special (WHATWG URL): their host stays as written.
  // Read it as http: does (lower case, IPv4 and IDNA normalised); the port
  // as written, since http: would drop an explicit :80.
  const port = url.port;
  if (protocol === "socks5" || protocol === "socks5h") {
    try {
      url = new URL(`http${withScheme.slice(protocol.length)}`);
    } catch {
      return "a valid URL";
    }
  }
  if (url.hostname === "") return "a URL with a host";
  if (
    (url.pathname !== "" && url.pathname !== "/") || url.search !== "" ||
    url.hash !== ""
  ) {
    return "a URL without path, query or fragment";
  }
  let credentials: BasicAuth | undefined;
  if (url.username !== "" || url.password !== "") {
    try {
      credentials = {
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      };
    } catch {
      return "a URL whose credentials are validly percent-encoded";
    }
  }
  const hostname = url.hostname.startsWith("[")
    ? url.hostname.slice(1, -1)
    : url.hostname;
  return {
    protocol: protocol as ProxyProtocol,
    hostname,
    port: port === "" ? DEFAULT_PORTS[protocol as ProxyProtocol] : Number(port),
    credentials,
  };
}

// ---- the environment -----------------------------------------------------

/** The environment variables that choose a proxy. */
export const PROXY_VARIABLES = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
  "no_proxy",
  "NO_PROXY",
] as const;

/** One of {@linkcode PROXY_VARIABLES}. */
export type ProxyVariable = typeof PROXY_VARIABLES[number];

/** What the environment says about proxies, read once. */
export interface ProxyEnv {
  /** The proxy variables that are set, not empty, and readable. */
  vars: Partial<Record<ProxyVariable, string>>;
  /**
   * Whether the process may be a CGI script: `REQUEST_METHOD` is set, or
   * cannot be read. Then upper-case `HTTP_PROXY` is ignored, since a CGI
   * request sets it from a `Proxy:` header (httpoxy).
   */
  cgi: boolean;
}

/** The value of `name`, `undefined` when unset or empty, `null` when unreadable. */
function readVariable(name: string): string | undefined | null {
  try {
    // querySync never prompts; a variable not granted is as if unset.
    const { state } = Deno.permissions.querySync({
      name: "env",
      variable: name,
    });
    if (state !== "granted") return null;
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return null;
  }
}

/**
 * Reads the proxy variables. Never throws and never prompts: a variable the
 * process may not read (`--allow-env` does not cover it) counts as unset.
 */
export function readProxyEnv(): ProxyEnv {
  const vars: Partial<Record<ProxyVariable, string>> = {};
  for (const name of PROXY_VARIABLES) {
    const value = readVariable(name);
    if (typeof value === "string") vars[name] = value;
  }
  return { vars, cgi: readVariable("REQUEST_METHOD") !== undefined };
}

// ---- routes ----------------------------------------------------------------

/** Chooses the route of each URL; made once per client. */
export interface ProxyRouter {
  /** Whether the environment decides (the `proxy` option is unset). */
  readonly fromEnv: boolean;
  /** The route for requests to `url`'s origin. */
  routeFor(url: URL): Route;
}

/**
 * Makes the router for a `proxy` option. When the option is unset, `env`
 * (by default the process environment, read now) decides.
 *
 * @throws {TypeError | RangeError} The option is not valid; see
 * {@linkcode parseProxyOption}.
 */
export function proxyRouter(option: unknown, env?: ProxyEnv): ProxyRouter {
  const setting = parseProxyOption(option);
  switch (setting.kind) {
    case "none":
      return { fromEnv: false, routeFor: () => DIRECT };
    case "unix": {
      const route: Route = Object.freeze({
        kind: "unix",
        path: setting.path,
        display: `unix:${setting.path}`,
      });
      return { fromEnv: false, routeFor: () => route };
    }
    case "proxy": {
      const route: Route = Object.freeze({
        kind: "proxy",
        proxy: setting.proxy,
        source: "proxy",
        display: setting.proxy.display,
      });
      return { fromEnv: false, routeFor: () => route };
    }
    case "env":
      return envRouter(env ?? readProxyEnv());
  }
}

function envRouter({ vars, cgi }: ProxyEnv): ProxyRouter {
  /** The first of `names` that is set: its route, made once. */
  const routeFrom = (names: ProxyVariable[]): Route | undefined => {
    const name = names.find((n) => vars[n] !== undefined && vars[n] !== "");
    if (name === undefined) return undefined;
    const parsed = parseProxyUrl(vars[name]!, true);
    const problem = typeof parsed === "string"
      ? parsed
      : parsed.credentials === undefined
      ? undefined
      : credentialProblem(parsed.protocol, parsed.credentials);
    const reason = typeof problem === "object"
      ? `a URL whose ${problem.field} is ${problem.requirement}`
      : problem;
    if (reason !== undefined || typeof parsed === "string") {
      return Object.freeze({
        kind: "invalid",
        display: `invalid ${name}`,
        reason: `${name} must be ${reason}`,
      });
    }
    const proxy = new ProxyEndpoint(
      parsed.protocol,
      parsed.hostname,
      parsed.port,
      parsed.credentials,
    );
    return Object.freeze({
      kind: "proxy",
      proxy,
      source: name,
      display: proxy.display,
    });
  };
  // Lower case first; upper-case HTTP_PROXY not at all in a CGI process.
  const all = routeFrom(["all_proxy", "ALL_PROXY"]);
  const http = routeFrom(cgi ? ["http_proxy"] : ["http_proxy", "HTTP_PROXY"]) ??
    all;
  const https = routeFrom(["https_proxy", "HTTPS_PROXY"]) ?? all;
  const noProxyText = vars.no_proxy ?? vars.NO_PROXY;
  const noProxy = noProxyText === undefined || noProxyText === ""
    ? undefined
    : parseNoProxy(noProxyText);
  return {
    fromEnv: true,
    routeFor(url: URL): Route {
      const route = url.protocol === "https:"
        ? https
        : url.protocol === "http:"
        ? http
        : undefined;
      if (route === undefined) return DIRECT;
      if (noProxy !== undefined) {
        const port = url.port === ""
          ? (url.protocol === "https:" ? 443 : 80)
          : Number(url.port);
        if (noProxy.matches(url.hostname, port)) return DIRECT;
      }
      return route;
    },
  };
}

/** `host` with IPv6 addresses in brackets. */
export function bracketed(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
