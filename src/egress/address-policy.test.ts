import { describe, expect, it } from 'vitest';
import { addressRefusal, AllowList, isAllowEntry } from './address-policy.js';
import { GuardedClient, TargetRefused } from './guarded-client.js';

describe('addressRefusal', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fc00::1', 'unique_local'],
    ['fd12:3456::1', 'unique_local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link_local'],
    ['::127.0.0.1', 'loopback'],
    ['::a00:1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:a00:1::', 'private'],
    ['2001:db8::1', 'reserved'],
  ])('%s is refused as %s', (address, reason) => {
    expect(addressRefusal(address)).toBe(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('%s is a public address', (address) => {
    expect(addressRefusal(address)).toBeUndefined();
  });
});

describe('AllowList', () => {
  const allow = new AllowList(['10.1.2.0/24', 'hooks.internal.example', 'fd00::/8', '192.168.7.7']);
  it('matches CIDRs, single addresses (also IPv4-mapped) and host names without case or trailing dot', () => {
    expect(allow.allowsAddress('10.1.2.200')).toBe(true);
    expect(allow.allowsAddress('10.1.3.1')).toBe(false);
    expect(allow.allowsAddress('::ffff:10.1.2.5')).toBe(true);
    expect(allow.allowsAddress('fd00::5')).toBe(true);
    expect(allow.allowsAddress('192.168.7.7')).toBe(true);
    expect(allow.allowsAddress('192.168.7.8')).toBe(false);
    expect(allow.allowsHost('Hooks.Internal.Example.')).toBe(true);
    expect(allow.allowsHost('other.internal.example')).toBe(false);
  });
  it('validates entries', () => {
    expect(['10.0.0.0/8', 'fd00::/8', '127.0.0.1', 'hooks.internal.example', 'localhost'].every(isAllowEntry)).toBe(true);
    expect(['10.0.0.0/40', 'http://x', 'a b', ''].some(isAllowEntry)).toBe(false);
  });
});

describe('GuardedClient.check', () => {
  // DNS answers as a hostile name server would give them: one public address and one internal
  const resolver = (answers: Record<string, string[]>) => async (host: string) => {
    const found = answers[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const answers = { 'mixed.example': ['93.184.216.34', '10.0.0.7'], 'public.example': ['93.184.216.34'], 'meta.example': ['169.254.169.254'] };

  it('refuses a host when any of its addresses is internal', async () => {
    const guard = new GuardedClient([], resolver(answers));
    await expect(guard.check(new URL('http://mixed.example/x'))).rejects.toBeInstanceOf(TargetRefused);
    await expect(guard.check(new URL('http://meta.example/latest/meta-data'))).rejects.toMatchObject({ reason: 'link_local' });
    await expect(guard.check(new URL('http://169.254.169.254/latest/meta-data'))).rejects.toMatchObject({ reason: 'link_local' });
    await expect(guard.check(new URL('http://10.0.0.1/'))).rejects.toMatchObject({ reason: 'private' });
  });

  it('pins the addresses it checked, and passes a lookup failure on to the post', async () => {
    const guard = new GuardedClient([], resolver(answers));
    expect((await guard.check(new URL('http://public.example/'))).addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
    const missing = await guard.check(new URL('http://nowhere.example/'));
    expect(missing.lookupError?.message).toContain('ENOTFOUND');
    await expect(guard.post(missing, {}, 'x', 1000, 1000)).rejects.toThrow('ENOTFOUND');
  });

  it('lets the allow list open a private range or a host by name', async () => {
    expect((await new GuardedClient(['10.0.0.0/8'], resolver(answers)).check(new URL('http://mixed.example/'))).addresses).toHaveLength(2);
    expect((await new GuardedClient(['meta.example'], resolver(answers)).check(new URL('http://meta.example/'))).addresses).toHaveLength(1);
  });
});
