import { lookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { ActionError } from './action-error.ts';

/**
 * Addresses no definition may reach unless HTTP_ALLOWED_HOSTS names the host: this host and
 * its network (loopback, private, link-local with the cloud metadata services, carrier-grade
 * NAT, multicast, reserved), and the IPv6 forms that carry an IPv4 address (mapped,
 * compatible, NAT64, 6to4, Teredo). BlockList matches IPv4-mapped IPv6 against the IPv4 rules
 * (and IPv4 against IPv6 rules as mapped, so ::ffff:0:0/96 must not be a rule: it holds all of IPv4).
 */
const LOCAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  LOCAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  LOCAL.addSubnet(network, prefix, 'ipv6');
}

export function isLocalAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOCAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const REFUSED = 'EHOSTNOTALLOWED';

const refusal = (host: string, address: string) =>
  new ActionError('HostNotAllowed', `${host} is a local or private address (${address}): only a host HTTP_ALLOWED_HOSTS names may be one`);

/**
 * Resolves a name and keeps only the addresses a definition may reach; the connection is made
 * to an address checked here, so a name cannot resolve to one address when checked and to
 * another when used.
 */
function guardedLookup(
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[] | string, family?: number) => void,
): void {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const allowed = addresses.filter((entry) => !isLocalAddress(entry.address));
    if (allowed.length === 0) {
      return callback(Object.assign(new Error(addresses[0]?.address ?? hostname), { code: REFUSED }), []);
    }
    if (options.all) return callback(null, allowed);
    callback(null, allowed[0]!.address, allowed[0]!.family);
  });
}

/**
 * Where http.request may connect. With HTTP_ALLOWED_HOSTS set, only the hosts it names (any
 * address, local ones included). Unset, any host whose every address it connects to is public.
 */
export class OutboundPolicy {
  readonly #allowed: readonly string[];
  readonly #named = new Agent();
  readonly #guarded = new Agent({ connect: { lookup: guardedLookup as never } });

  constructor(allowedHosts: readonly string[]) {
    this.#allowed = allowedHosts;
  }

  /** The dispatcher to call `url` through, or HostNotAllowed before anything is sent. */
  dispatcherFor(url: URL): Dispatcher {
    const host = url.host.toLowerCase();
    const name = url.hostname.toLowerCase();
    if (this.#allowed.includes(host) || this.#allowed.includes(name)) return this.#named;
    if (this.#allowed.length > 0) throw new ActionError('HostNotAllowed', `${url.host} is not in HTTP_ALLOWED_HOSTS`);
    // An address written in the URL is connected to as it is, without a lookup.
    const literal = name.startsWith('[') ? name.slice(1, -1) : name;
    if (isLocalAddress(literal)) throw refusal(url.host, literal);
    return this.#guarded;
  }

  /** The error a failed call stands for: HostNotAllowed when the guarded lookup refused every address. */
  explain(url: URL, error: unknown): ActionError | undefined {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code === REFUSED ? refusal(url.host, cause.message ?? '') : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([this.#named.close(), this.#guarded.close()]);
  }
}
