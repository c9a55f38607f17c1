import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addDays,
  dayBuckets,
  isTimeZone,
  localDate,
  startOfDay,
} from '../../src/domain/time-range.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('isTimeZone', () => {
  test('IANA names', () => {
    for (const tz of ['UTC', 'Europe/Moscow', 'America/New_York', 'Asia/Kolkata', 'Etc/GMT+3']) {
      assert.equal(isTimeZone(tz), true, tz);
    }
  });

  test('not a zone', () => {
    for (const tz of ['', 'Mars/Olympus', 'Europe/Nowhere', 'not a zone', 'UTC+3']) {
      assert.equal(isTimeZone(tz), false, tz);
    }
  });
});

describe('startOfDay', () => {
  test('UTC', () => {
    assert.equal(iso(startOfDay('2026-05-10', 'UTC')), '2026-05-10T00:00:00.000Z');
    assert.equal(iso(startOfDay('2028-02-29', 'UTC')), '2028-02-29T00:00:00.000Z');
  });

  test('Europe/Moscow (UTC+3): the previous day at 21:00Z', () => {
    assert.equal(iso(startOfDay('2026-05-10', 'Europe/Moscow')), '2026-05-09T21:00:00.000Z');
    assert.equal(iso(startOfDay('2026-01-01', 'Europe/Moscow')), '2025-12-31T21:00:00.000Z');
  });

  test('a zone west of UTC, and one with a half-hour offset', () => {
    assert.equal(iso(startOfDay('2026-01-15', 'America/New_York')), '2026-01-15T05:00:00.000Z');
    assert.equal(iso(startOfDay('2026-07-15', 'America/New_York')), '2026-07-15T04:00:00.000Z');
    assert.equal(iso(startOfDay('2026-05-10', 'Asia/Kolkata')), '2026-05-09T18:30:00.000Z');
  });

  test('America/New_York, spring forward: 2026-03-08 is 23 hours long', () => {
    const start = startOfDay('2026-03-08', 'America/New_York');
    const next = startOfDay('2026-03-09', 'America/New_York');
    assert.equal(iso(start), '2026-03-08T05:00:00.000Z');
    assert.equal(iso(next), '2026-03-09T04:00:00.000Z');
    assert.equal(next - start, 23 * HOUR);
  });

  test('America/New_York, fall back: 2026-11-01 is 25 hours long', () => {
    const start = startOfDay('2026-11-01', 'America/New_York');
    const next = startOfDay('2026-11-02', 'America/New_York');
    assert.equal(iso(start), '2026-11-01T04:00:00.000Z');
    assert.equal(iso(next), '2026-11-02T05:00:00.000Z');
    assert.equal(next - start, 25 * HOUR);
  });

  test('Europe/Berlin across its DST changes', () => {
    const tz = 'Europe/Berlin';
    assert.equal(startOfDay('2026-03-30', tz) - startOfDay('2026-03-29', tz), 23 * HOUR);
    assert.equal(startOfDay('2026-10-26', tz) - startOfDay('2026-10-25', tz), 25 * HOUR);
  });

  test('every day of 2026: local midnight begins the day and the instant before ends the last', () => {
    const zones = [
      'UTC',
      'Europe/Moscow',
      'America/New_York',
      'America/Los_Angeles',
      'Europe/London',
      'Europe/Berlin',
      'Asia/Kolkata',
      'Australia/Sydney',
      'Pacific/Auckland',
      'Asia/Tehran',
    ];
    for (const tz of zones) {
      for (let day = '2026-01-01'; day <= '2026-12-31'; day = addDays(day, 1)) {
        const start = startOfDay(day, tz);
        assert.equal(localDate(start, tz), day, `${tz} ${day}`);
        assert.equal(localDate(start - 1, tz), addDays(day, -1), `${tz} ${day}`);
      }
    }
  });

  test('a day whose local midnight does not exist begins at its first instant', {}, () => {
    // America/Santiago jumps 00:00 → 01:00 on 2026-09-06; America/Havana on 2026-03-08.
    const santiago = startOfDay('2026-09-06', 'America/Santiago');
    assert.equal(iso(santiago), '2026-09-06T04:00:00.000Z');
    assert.equal(localDate(santiago, 'America/Santiago'), '2026-09-06');
    const havana = startOfDay('2026-03-08', 'America/Havana');
    assert.equal(iso(havana), '2026-03-08T05:00:00.000Z');
    assert.equal(localDate(havana, 'America/Havana'), '2026-03-08');
  });
});

describe('localDate', () => {
  test('UTC', () => {
    assert.equal(localDate(Date.parse('2026-05-10T00:00:00Z'), 'UTC'), '2026-05-10');
    assert.equal(localDate(Date.parse('2026-05-10T23:59:59.999Z'), 'UTC'), '2026-05-10');
  });

  test('Europe/Moscow turns the date at 21:00Z', () => {
    assert.equal(localDate(Date.parse('2026-05-09T20:59:59.999Z'), 'Europe/Moscow'), '2026-05-09');
    assert.equal(localDate(Date.parse('2026-05-09T21:00:00Z'), 'Europe/Moscow'), '2026-05-10');
  });

  test('America/New_York', () => {
    assert.equal(localDate(Date.parse('2026-11-02T04:59:59Z'), 'America/New_York'), '2026-11-01');
    assert.equal(localDate(Date.parse('2026-11-02T05:00:00Z'), 'America/New_York'), '2026-11-02');
    assert.equal(localDate(Date.parse('2027-01-01T03:00:00Z'), 'America/New_York'), '2026-12-31');
  });

  test('fractions of a second do not move the date', () => {
    const ms = Date.parse('2026-05-09T20:59:59Z') + 999;
    assert.equal(localDate(ms, 'Europe/Moscow'), '2026-05-09');
  });
});

describe('addDays', () => {
  test('across months, years and leap days', () => {
    assert.equal(addDays('2026-01-31', 1), '2026-02-01');
    assert.equal(addDays('2026-12-31', 1), '2027-01-01');
    assert.equal(addDays('2028-02-28', 1), '2028-02-29');
    assert.equal(addDays('2026-02-28', 1), '2026-03-01');
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
    assert.equal(addDays('2026-05-10', 0), '2026-05-10');
    assert.equal(addDays('2026-01-01', 365), '2027-01-01');
  });
});

describe('dayBuckets', () => {
  test('one bucket per day, inclusive of to, contiguous', () => {
    const buckets = dayBuckets('2026-10-30', '2026-11-03', 'America/New_York');
    assert.deepEqual(
      buckets.map((b) => b.key),
      ['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03'],
    );
    for (let i = 0; i < buckets.length - 1; i++) {
      assert.equal(buckets[i]?.endMs, buckets[i + 1]?.startMs, `bucket ${i}`);
    }
    for (const b of buckets) {
      assert.equal(b.startMs, startOfDay(b.key, 'America/New_York'));
      assert.equal(b.endMs, startOfDay(addDays(b.key, 1), 'America/New_York'));
      assert.ok(b.endMs > b.startMs);
    }
    const lengths = buckets.map((b) => (b.endMs - b.startMs) / HOUR);
    assert.deepEqual(lengths, [24, 24, 25, 24, 24]);
  });

  test('the spring-forward day is 23 hours', () => {
    const buckets = dayBuckets('2026-03-07', '2026-03-09', 'America/New_York');
    assert.deepEqual(
      buckets.map((b) => (b.endMs - b.startMs) / HOUR),
      [24, 23, 24],
    );
  });

  test('a single day', () => {
    assert.deepEqual(dayBuckets('2026-05-10', '2026-05-10', 'Europe/Moscow'), [
      {
        key: '2026-05-10',
        startMs: Date.parse('2026-05-09T21:00:00Z'),
        endMs: Date.parse('2026-05-10T21:00:00Z'),
      },
    ]);
  });

  test('across a year boundary', () => {
    const buckets = dayBuckets('2026-12-30', '2027-01-02', 'UTC');
    assert.deepEqual(
      buckets.map((b) => b.key),
      ['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02'],
    );
    assert.equal(buckets[0]?.startMs, Date.parse('2026-12-30T00:00:00Z'));
    assert.equal(buckets.at(-1)?.endMs, Date.parse('2027-01-03T00:00:00Z'));
  });

  test('from after to is empty', () => {
    assert.deepEqual(dayBuckets('2026-05-11', '2026-05-10', 'UTC'), []);
  });

  test('a whole year: 365 contiguous buckets covering every instant once', () => {
    const tz = 'Europe/Berlin';
    const buckets = dayBuckets('2026-01-01', '2026-12-31', tz);
    assert.equal(buckets.length, 365);
    for (let i = 1; i < buckets.length; i++) {
      assert.equal(buckets[i - 1]?.endMs, buckets[i]?.startMs);
    }
    const first = buckets[0];
    const last = buckets.at(-1);
    assert.ok(first && last);
    assert.equal(last.endMs - first.startMs, 365 * 24 * HOUR);
  });
});
