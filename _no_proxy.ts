// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * `NO_PROXY` / `no_proxy`: which hosts go direct although a proxy is set.
 * Go's `httpproxy` rules, with two differences that follow the built-in
 * fetch: a leading dot also matches the domain itself, and loopback is
 * proxied unless an entry says otherwise. Comma-separated entries: `*`; a
 * host or domain, which also matches its subdomains; `host:port`; IP
 * literals (IPv6 in brackets or not); CIDR blocks. Names are matched as
 * written, never resolved.
 *
 * @module
 */

type NoProxyRule =
  | { kind: "all" }
  | { kind: "cidr"; bytes: Uint8Array; bits: number }
  | { kind: "ip"; bytes: Uint8Array; port: string }
  | { kind: "domain"; domain: string; port: string };

/** Parsed `NO_PROXY` entries. */
export interface NoProxy {
  /** Whether requests to `hostname:port` go direct. */
  matches(hostname: string, port: number): boolean;
}

/**
 * Parses a `NO_PROXY` value: comma-separated entries, each `*`, an IP
 * address (IPv6 with or without brackets), a CIDR block, a domain (with or
 * without a leading `.` or `*.`), optionally with `:port`. Entries that fit
 * none of these are ignored, as in Go.
 */
export function parseNoProxy(value: string): NoProxy {
  const rules: NoProxyRule[] = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") {
      rules.length = 0;
      rules.push({ kind: "all" });
      break;
    }
    const slash = entry.indexOf("/");
    if (slash !== -1) {
      const bytes = parseIp(entry.slice(0, slash));
      const bitsText = entry.slice(slash + 1);
      const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : -1;
      if (bytes !== null && bits >= 0 && bits <= bytes.length * 8) {
        rules.push({ kind: "cidr", bytes, bits });
      }
      continue;
    }
    let host = entry;
    let port = "";
    if (entry.startsWith("[")) {
      // [v6] or [v6]:port
      const close = entry.indexOf("]");
      if (close === -1) continue;
      host = entry.slice(1, close);
      const rest = entry.slice(close + 1);
      if (rest.startsWith(":")) port = rest.slice(1);
      else if (rest !== "") continue;
    } else {
      const colon = entry.indexOf(":");
      if (colon !== -1 && colon === entry.lastIndexOf(":")) {
        // host:port; more than one colon is a bare IPv6 address.
        host = entry.slice(0, colon);
        port = entry.slice(colon + 1);
      }
    }
    if (host === "") continue;
    const ip = parseIp(host);
    if (ip !== null) {
      rules.push({ kind: "ip", bytes: ip, port });
      continue;
    }
    let domain = host.startsWith("*.")
      ? host.slice(2)
      : host.startsWith(".")
      ? host.slice(1)
      : host;
    if (domain === "") continue;
    if (/[^ -~]/.test(domain)) {
      // URLs carry internationalised names as punycode: compare alike.
      try {
        domain = new URL(`http://${domain}/`).hostname;
      } catch {
        continue;
      }
    }
    rules.push({ kind: "domain", domain, port });
  }
  return {
    matches(hostname: string, port: number): boolean {
      if (rules.length === 0) return false;
      const host = (hostname.startsWith("[") ? hostname.slice(1, -1) : hostname)
        .toLowerCase();
      const portText = String(port);
      const ip = parseIp(host);
      for (const rule of rules) {
        switch (rule.kind) {
          case "all":
            return true;
          case "cidr":
            if (ip !== null && inCidr(ip, rule.bytes, rule.bits)) return true;
            break;
          case "ip":
            if (
              ip !== null && sameBytes(ip, rule.bytes) &&
              (rule.port === "" || rule.port === portText)
            ) {
              return true;
            }
            break;
          case "domain":
            // A domain covers itself and its subdomains, dot or no dot.
            if (
              (host === rule.domain || host.endsWith(`.${rule.domain}`)) &&
              (rule.port === "" || rule.port === portText)
            ) {
              return true;
            }
            break;
        }
      }
      return false;
    },
  };
}

/**
 * Parses an IP address: 4 bytes for IPv4 (dotted quad, no leading zeros, as
 * Go's `net.ParseIP`), 16 for IPv6; an IPv4-mapped IPv6 address gives 4.
 */
export function parseIp(text: string): Uint8Array | null {
  if (text.includes(":")) return parseIpv6(text);
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return null;
  const all = [...head, ...new Array(8 - count).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i] >> 8;
    out[i * 2 + 1] = all[i] & 0xff;
  }
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
  if (
    out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff &&
    out[11] === 0xff
  ) {
    return out.slice(12);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function inCidr(ip: Uint8Array, net: Uint8Array, bits: number): boolean {
  if (ip.length !== net.length) return false;
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (ip[i] !== net[i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (ip[i] & mask) === (net[i] & mask);
}
