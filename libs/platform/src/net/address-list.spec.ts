import { AddressList, clientBucket, NOT_AN_ADDRESS_BUCKET } from './address-list';

describe('clientBucket', () => {
  it('budgets IPv4 clients by address, IPv4-mapped ones as IPv4', () => {
    expect(clientBucket('198.51.100.7')).toBe('198.51.100.7');
    expect(clientBucket('::ffff:198.51.100.7')).toBe('198.51.100.7');
  });

  it('budgets IPv6 clients by /64, however the address is written', () => {
    const bucket = '2001:db8:1:2::/64';
    for (const address of [
      '2001:db8:1:2::1',
      '2001:0db8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:DB8:1:2:0:0:0:0',
      'fe80::1%eth0'.replace('fe80', '2001:db8:1:2'),
    ]) {
      expect(clientBucket(address)).toBe(bucket);
    }
    expect(clientBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('64:ff9b::198.51.100.7')).toBe('64:ff9b:0:0::/64');
  });

  it('puts anything that is not an address in one shared bucket', () => {
    for (const junk of ['unknown', '', '198.51.100.7:8080', 'x'.repeat(500), '2001:db8::1::2']) {
      expect(clientBucket(junk)).toBe(NOT_AN_ADDRESS_BUCKET);
    }
  });
});

describe('AddressList', () => {
  it('matches IPv4 and IPv6 CIDRs and never a non-address', () => {
    const list = new AddressList(['192.0.2.0/24', '2001:db8::/32']);
    expect(list.includes('192.0.2.9')).toBe(true);
    expect(list.includes('::ffff:192.0.2.9')).toBe(true);
    expect(list.includes('2001:db8:5::1')).toBe(true);
    expect(list.includes('198.51.100.1')).toBe(false);
    expect(list.includes('garbage')).toBe(false);
  });
});
