package io.advertisex.contract;

import java.math.BigInteger;

/**
 * Contract timestamps to UTC epoch milliseconds: a port of
 * advertisex/contract/timestamps.py's {@code to_epoch_ms}.
 *
 * <p>Accepted: ISO-8601 {@code YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)} and integer
 * epoch millis (an integer, an integral double, or a string of ASCII digits), within
 * 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. Fractions finer than a millisecond are
 * truncated.
 */
public final class Timestamps {
  private Timestamps() {}

  /** 9999-12-31T23:59:59.999Z. */
  public static final long MAX_EPOCH_MS = 253_402_300_799_999L;

  private static final int MAX_EPOCH_DIGITS = 15; // len(str(MAX_EPOCH_MS))
  private static final ContractException BAD = new ContractException("bad_timestamp");

  /**
   * The epoch millis of a contract timestamp: Long, Integer, BigInteger (Python int), Double
   * (Python float) or String; anything else (Boolean and null included) is bad_timestamp.
   */
  public static long toEpochMs(Object value) {
    if (value instanceof String) {
      return fromText((String) value);
    }
    if (value instanceof Long) {
      return inRange((Long) value);
    }
    if (value instanceof Double) {
      double d = (Double) value;
      // finite and whole; int(d) must lie in the range, which is exact in a double
      if (d >= 0 && d <= MAX_EPOCH_MS && d == Math.floor(d)) {
        return (long) d;
      }
      throw BAD;
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return inRange(((Number) value).longValue());
    }
    if (value instanceof BigInteger) {
      BigInteger big = (BigInteger) value;
      if (big.bitLength() <= 63) {
        return inRange(big.longValue());
      }
    }
    throw BAD;
  }

  private static long fromText(String value) {
    String text = PyText.strip(value);
    if (PyText.isAsciiDigits(text)) {
      int n = text.length();
      int i = 0;
      while (i < n && text.charAt(i) == '0') {
        i++;
      }
      if (n - i > MAX_EPOCH_DIGITS) {
        throw BAD;
      }
      long ms = 0;
      for (; i < n; i++) {
        ms = ms * 10 + (text.charAt(i) - '0');
      }
      return inRange(ms);
    }
    return fromIso(text);
  }

  // (\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))
  private static long fromIso(String t) {
    int n = t.length();
    if (n < 20
        || t.charAt(4) != '-'
        || t.charAt(7) != '-'
        || t.charAt(10) != 'T'
        || t.charAt(13) != ':'
        || t.charAt(16) != ':') {
      throw BAD;
    }
    int year = digits(t, 0, 4);
    int month = digits(t, 5, 2);
    int day = digits(t, 8, 2);
    int hour = digits(t, 11, 2);
    int minute = digits(t, 14, 2);
    int second = digits(t, 17, 2);
    int i = 19;
    int millis = 0;
    if (t.charAt(i) == '.') {
      int start = ++i;
      while (i < n && isDigit(t.charAt(i))) {
        i++;
      }
      int count = i - start;
      if (count == 0 || count > 9) {
        throw BAD;
      }
      for (int k = 0; k < 3; k++) {
        millis = millis * 10 + (k < count ? t.charAt(start + k) - '0' : 0);
      }
    }
    if (i >= n) {
      throw BAD;
    }
    char zone = t.charAt(i);
    int offsetS = 0;
    boolean badOffset = false;
    if (zone == 'Z') {
      if (i + 1 != n) {
        throw BAD;
      }
    } else if ((zone == '+' || zone == '-') && i + 6 == n && t.charAt(i + 3) == ':') {
      int offH = digits(t, i + 1, 2);
      int offM = digits(t, i + 4, 2);
      badOffset = offH > 23 || offM > 59;
      offsetS = (offH * 3600 + offM * 60) * (zone == '+' ? 1 : -1);
    } else {
      throw BAD;
    }
    // datetime(year, month, day, hour, minute, second) validates the calendar
    if (year < 1
        || month < 1
        || month > 12
        || day < 1
        || day > daysInMonth(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || badOffset) {
      throw BAD;
    }
    long days = daysFromCivil(year, month, day);
    long seconds = days * 86400 + hour * 3600L + minute * 60L + second - offsetS;
    return inRange(seconds * 1000 + millis);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static int digits(String t, int from, int count) {
    int v = 0;
    for (int k = from; k < from + count; k++) {
      char c = t.charAt(k);
      if (!isDigit(c)) {
        throw BAD;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static int daysInMonth(int year, int month) {
    switch (month) {
      case 2:
        return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
      case 4:
      case 6:
      case 9:
      case 11:
        return 30;
      default:
        return 31;
    }
  }

  /** Days from 1970-01-01 to a proleptic Gregorian date (year >= 1). */
  static long daysFromCivil(int year, int month, int day) {
    int y = month <= 2 ? year - 1 : year;
    int era = y / 400; // y >= 0
    int yoe = y - era * 400;
    int mp = (month + 9) % 12;
    int doy = (153 * mp + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097L + doe - 719468L;
  }

  private static long inRange(long ms) {
    if (ms >= 0 && ms <= MAX_EPOCH_MS) {
      return ms;
    }
    throw BAD;
  }
}
