import { eventSubject, EventSubjects, messageId, normalizeDeliveryId, SUBJECT_CACHE_MAX, webhookCloudEvent } from './cloud-event';

describe('webhook CloudEvents', () => {
  it('turns the type into valid NATS subject tokens', () => {
    expect(eventSubject('events', 'stripe-main', 'stripe.payment_intent.succeeded')).toBe(
      'events.webhook.stripe-main.stripe.payment_intent.succeeded',
    );
    expect(eventSubject('events', 'shop', 'shopify.orders/create')).toBe('events.webhook.shop.shopify.orders_create');
    expect(eventSubject('t.ev', 's', 'x.a b*>..é.')).toBe('t.ev.webhook.s.x.a_b__._._._');
  });

  it('remembers subjects per source and type, and stays right past its bound', () => {
    const subjects = new EventSubjects('events');
    expect(subjects.of('shop', 'shopify.orders/create')).toBe('events.webhook.shop.shopify.orders_create');
    expect(subjects.of('shop', 'shopify.orders/create')).toBe('events.webhook.shop.shopify.orders_create');
    expect(subjects.of('other', 'shopify.orders/create')).toBe('events.webhook.other.shopify.orders_create');
    for (let i = 0; i <= SUBJECT_CACHE_MAX + 1; i++) expect(subjects.of('shop', `t.${i}`)).toBe(`events.webhook.shop.t.${i}`);
    expect(subjects.of('shop', 'shopify.orders/create')).toBe('events.webhook.shop.shopify.orders_create');
  });

  it('keeps printable delivery ids and hashes anything else', () => {
    expect(normalizeDeliveryId('evt_1NG8Du2eZvKYlo2C')).toBe('evt_1NG8Du2eZvKYlo2C');
    expect(normalizeDeliveryId('a b')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(normalizeDeliveryId('x'.repeat(201))).toMatch(/^sha256:/);
    expect(messageId('gh', 'd-1')).toBe('webhook:gh:d-1');
  });

  it('builds the CloudEvents 1.0 envelope with data or data_base64', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    const event = { kind: 'event', deliveryId: 'd', type: 'github.push', dataContentType: 'application/json' } as const;
    expect(webhookCloudEvent('gh', 'd', { ...event, data: { data: { ref: 'main' } } }, at)).toEqual({
      specversion: '1.0',
      id: 'd',
      source: 'webhook/gh',
      type: 'github.push',
      time: '2026-01-02T03:04:05.000Z',
      datacontenttype: 'application/json',
      data: { ref: 'main' },
    });
    const binary = webhookCloudEvent(
      'gh',
      'd',
      { ...event, dataContentType: 'application/octet-stream', data: { dataBase64: 'AA==' } },
      at,
    );
    expect(binary).toMatchObject({ data_base64: 'AA==', datacontenttype: 'application/octet-stream' });
    expect(binary).not.toHaveProperty('data');
  });
});
