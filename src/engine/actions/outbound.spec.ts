import { describe, expect, it } from 'vitest';
import { isLocalAddress, OutboundPolicy } from './outbound.ts';

describe('isLocalAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::7f00:1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    'fd00:ec2::254',
    'fe80::1',
    'ff02::1',
  ])('%s is local', (address) => expect(isLocalAddress(address)).toBe(true));

  it.each(['93.184.216.34', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '2a00:1450::1'])('%s is public', (address) =>
    expect(isLocalAddress(address)).toBe(false),
  );

  it('a name is not an address', () => expect(isLocalAddress('localhost')).toBe(false));
});

describe('OutboundPolicy', () => {
  it('lets a named host through whatever its address, and nothing else when a list is set', () => {
    const policy = new OutboundPolicy(['127.0.0.1:8080', 'api.example.test']);
    expect(() => policy.dispatcherFor(new URL('http://127.0.0.1:8080/'))).not.toThrow();
    expect(() => policy.dispatcherFor(new URL('https://API.example.test/x'))).not.toThrow();
    expect(() => policy.dispatcherFor(new URL('http://127.0.0.1:8081/'))).toThrow(/not in HTTP_ALLOWED_HOSTS/);
    expect(() => policy.dispatcherFor(new URL('http://example.org/'))).toThrow(/not in HTTP_ALLOWED_HOSTS/);
  });

  it('without a list, refuses a local address written in the URL before connecting', () => {
    const policy = new OutboundPolicy([]);
    expect(() => policy.dispatcherFor(new URL('http://[::ffff:127.0.0.1]/'))).toThrow(expect.objectContaining({ name: 'HostNotAllowed' }));
    expect(() => policy.dispatcherFor(new URL('http://example.org/'))).not.toThrow();
  });
});
