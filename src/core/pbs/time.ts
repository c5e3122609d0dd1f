// PBS prints job times as the server's local wall-clock time ("Thu Nov 26 16:31:12 2026") with no zone, so turning
// them into instants needs the server's zone: an IANA name (Gadi: Australia/Sydney) or a fixed offset such as
// `date +%z` prints.

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

const CTIME = /^\s*[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s*$/;
const FIXED_OFFSET = /^(?:UTC|GMT|Z)?([+-])(\d{2}):?(\d{2})$/i;

/** Converts a wall-clock time (as if it were UTC, in ms) of a zone into the instant it names. */
export type ZoneConverter = (wallClockAsUtcMs: number) => number;

/** A converter for 'UTC', a fixed offset ('+1100', '+11:00', 'UTC+10:00') or an IANA zone name. */
export function zoneConverter(zone = 'UTC'): ZoneConverter {
  if (/^(UTC|GMT|Z)$/i.test(zone)) return (ms) => ms;
  const fixed = FIXED_OFFSET.exec(zone);
  if (fixed) {
    const minutes = (Number(fixed[2]) * 60 + Number(fixed[3])) * (fixed[1] === '-' ? -1 : 1);
    return (ms) => ms - minutes * 60_000;
  }
  return ianaConverter(zone);
}

function ianaConverter(zone: string): ZoneConverter {
  // Throws RangeError for a zone the runtime does not know: a configuration error worth seeing.
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23',
    year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  const offsetAt = (instant: number): number => {
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(instant)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(instant / 1000) * 1000;
  };
  // Offsets change only on the hour (or half hour) in real zones: remember them per wall-clock hour, which keeps
  // a 10,000-job qstat document to a handful of Intl calls.
  const byHour = new Map<number, number>();
  return (wall) => {
    const hour = Math.floor(wall / 3_600_000);
    let offset = byHour.get(hour);
    if (offset === undefined) {
      offset = offsetAt(wall - offsetAt(wall));
      byHour.set(hour, offset);
    }
    return wall - offset;
  };
}

/** "Thu Nov 26 16:31:12 2026" in the given zone, or epoch seconds; undefined when it is neither. */
export function parsePbsTime(value: unknown, toInstant: ZoneConverter = (ms) => ms): Date | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? new Date(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = CTIME.exec(value);
  if (!m) return /^\d{9,11}$/.test(value.trim()) ? new Date(Number(value) * 1000) : undefined;
  const month = MONTHS[m[1]];
  if (month === undefined) return undefined;
  const wall = Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
  return new Date(toInstant(wall));
}
