// Python's own values as PyYAML's safe_load builds them, and `str()` of each, because dask-jobqueue interpolates
// config values into the job script with `%s`: a float prints as Python prints it (`60.0`, `1e-05`), a boolean as
// `True`. JavaScript has one number type, so floats are wrapped to keep `8` and `8.0` apart.

/** A Python float. Integral floats (`48.0`) must stay distinct from ints: dask prints them differently. */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toString(): string {
    return pythonFloat(this.value);
  }
}

/** A `datetime.date`. */
export class PyDate {
  constructor(readonly year: number, readonly month: number, readonly day: number) {}
  toString(): string {
    return `${pad(this.year, 4)}-${pad(this.month, 2)}-${pad(this.day, 2)}`;
  }
}

/** A `datetime.datetime`; `offsetMinutes` undefined is a naive datetime. */
export class PyDateTime extends PyDate {
  constructor(
    year: number, month: number, day: number,
    readonly hour: number, readonly minute: number, readonly second: number, readonly microsecond: number,
    readonly offsetMinutes?: number,
  ) {
    super(year, month, day);
  }
  override toString(): string {
    const frac = this.microsecond ? `.${pad(this.microsecond, 6)}` : '';
    let tz = '';
    if (this.offsetMinutes !== undefined) {
      const m = Math.abs(this.offsetMinutes);
      tz = `${this.offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(m / 60), 2)}:${pad(m % 60, 2)}`;
    }
    return `${super.toString()} ${pad(this.hour, 2)}:${pad(this.minute, 2)}:${pad(this.second, 2)}${frac}${tz}`;
  }
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Python's `str(float)` (= `repr`): the shortest digits that read back to the same float, written in fixed point
 * when the decimal exponent is in (-4, 16], else as `1e-05` / `1e+16`; integral values keep `.0`.
 */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // digits are 0.d1d2… × 10^point
  if (point <= -4 || point > 16) {
    const e = point - 1;
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${pad(Math.abs(e), 2)}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Python's `str()` of a scalar PyYAML can produce. */
export function pythonStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

/** Python's truth value of a scalar (dask-jobqueue tests some keys with `if value:` / `or`). */
export function pythonTruthy(v: unknown): boolean {
  if (v instanceof PyFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object' && !(v instanceof PyDate)) return Object.keys(v).length > 0;
  return !!v;
}
