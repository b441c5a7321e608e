package io.advertisex.contract;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bid requests on the wire, decoded as advertisex/contract/bid_requests.py's
 * {@code decode_bid_request(payload)} decodes them (writer_schemas=None, as the pipeline
 * calls it): the same payloads are accepted and give the same values.
 *
 * <p>A hand-written reader of schemas/bid_request.avsc (event_time read as a plain long,
 * as the reference reads it), mirroring the behaviour of fastavro's compiled reader
 * ({@code fastavro._read}, the one {@code fastavro.schemaless_reader} is), odd corners
 * included:
 *
 * <ul>
 *   <li>a varint may be longer than 10 bytes; its 7-bit groups are OR-ed in at shift
 *       {@code 7*i mod 64} (C's 64-bit shift on x86), bits beyond 64 are dropped, so a long
 *       is always a 64-bit {@link Long}, never larger;
 *   <li>a boolean is any byte: 0 is false, everything else true;
 *   <li>enum symbols and union branches are chosen by Python list indexing, so the
 *       indexes -1 and -2 pick the last and the first of the two;
 *   <li>an array block with a negative count is followed by a byte size that is read and
 *       ignored; a count of Long.MIN_VALUE stays negative and holds no items;
 *   <li>strings are strict UTF-8 as Python's codec decodes it (no surrogates, no overlong
 *       forms, nothing above U+10FFFF; noncharacters and NUL are fine).
 * </ul>
 *
 * <p>The framing is detected per message: a leading 0x00 is the schema registry's header
 * (magic byte, 4-byte big-endian schema id; only id 1, our schema, is known) followed by a
 * datum that must end the payload; if that reading fails, the payload counts as a plain
 * datum (whose request_id is then empty) only when that datum ends the payload. Any other
 * payload is a plain datum, and bytes after it are ignored.
 *
 * <p>The result mirrors fastavro's dict: keys in schema order, nested records as
 * LinkedHashMap, a union as its value or null, the enum as its symbol, arrays as ArrayList
 * of String, longs as Long, the boolean as Boolean. Thread-safe; no state between calls.
 */
public final class BidRequestsAvro {

  private static final String MALFORMED = "malformed_avro";
  private static final String[] AUCTION_TYPES = {"FIRST_PRICE", "SECOND_PRICE"};
  private static final int HEADER_SIZE = 5;
  private static final int OUR_SCHEMA_ID = 1;

  private BidRequestsAvro() {}

  /** A read that fails inside the datum: internal, caught by {@link #decode}. */
  private static final class Unreadable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unreadable() {
      super(null, null, false, false);
    }
  }

  private static final Unreadable UNREADABLE = new Unreadable();

  /**
   * The record of one message.
   *
   * @throws ContractException {@code malformed_avro} when it cannot be read
   */
  public static Map<String, Object> decode(byte[] payload) {
    if (payload == null || payload.length == 0) {
      throw new ContractException(MALFORMED);
    }
    if (payload[0] == 0) {
      if (payload.length >= HEADER_SIZE
          && payload[1] == 0
          && payload[2] == 0
          && payload[3] == 0
          && payload[4] == OUR_SCHEMA_ID) {
        Cursor in = new Cursor(payload, HEADER_SIZE);
        try {
          Map<String, Object> record = readBidRequest(in);
          if (in.pos == payload.length) {
            return record;
          }
        } catch (Unreadable e) {
          // falls through to the plain reading
        }
      }
      // The registry reading failed (short header, unknown id, unreadable or trailing
      // bytes): a plain datum starting with 0x00 has an empty request_id, and counts only
      // if it is the whole payload.
      Cursor in = new Cursor(payload, 0);
      try {
        Map<String, Object> record = readBidRequest(in);
        if (in.pos == payload.length) {
          return record;
        }
      } catch (Unreadable e) {
        // the registry error stands
      }
      throw new ContractException(MALFORMED);
    }
    try {
      return readBidRequest(new Cursor(payload, 0));
    } catch (Unreadable e) {
      throw new ContractException(MALFORMED);
    }
  }

  private static final class Cursor {
    final byte[] buf;
    int pos;

    Cursor(byte[] buf, int pos) {
      this.buf = buf;
      this.pos = pos;
    }
  }

  private static Map<String, Object> readBidRequest(Cursor in) {
    Map<String, Object> record = new LinkedHashMap<>(16);
    record.put("request_id", readString(in));
    record.put("event_time", readLong(in));
    record.put("exchange", readString(in));
    record.put("auction_type", AUCTION_TYPES[branch(readLong(in))]);
    record.put("bid_floor_micros", readLong(in));
    record.put("currency", readString(in));

    Map<String, Object> user = new LinkedHashMap<>(8);
    user.put("user_id", readOptionalString(in));
    user.put("segments", readStringArray(in));
    user.put("age_range", readOptionalString(in));
    user.put("gender", readOptionalString(in));
    record.put("user", user);

    Map<String, Object> device = new LinkedHashMap<>(8);
    device.put("device_type", readOptionalString(in));
    device.put("os", readOptionalString(in));
    device.put("user_agent", readOptionalString(in));
    device.put("ip", readOptionalString(in));
    device.put("country", readOptionalString(in));
    record.put("device", device);

    Map<String, Object> site = new LinkedHashMap<>(4);
    site.put("domain", readString(in));
    site.put("page_url", readOptionalString(in));
    site.put("categories", readStringArray(in));
    record.put("site", site);

    Map<String, Object> targeting = new LinkedHashMap<>(4);
    targeting.put("campaign_ids", readStringArray(in));
    targeting.put("keywords", readStringArray(in));
    record.put("targeting", targeting);

    Map<String, Object> outcome = null;
    if (branch(readLong(in)) == 1) {
      outcome = new LinkedHashMap<>(8);
      outcome.put("bid_price_micros", branch(readLong(in)) == 1 ? readLong(in) : null);
      outcome.put("won", readBoolean(in));
      outcome.put("clearing_price_micros", branch(readLong(in)) == 1 ? readLong(in) : null);
      outcome.put("campaign_id", readOptionalString(in));
      outcome.put("creative_id", readOptionalString(in));
    }
    record.put("outcome", outcome);
    return record;
  }

  /**
   * The position in a two-element list (every union and the enum here have two members)
   * that Python's {@code list[index]} picks: -2..1, else IndexError.
   */
  private static int branch(long index) {
    if (index == 0 || index == -2) {
      return 0;
    }
    if (index == 1 || index == -1) {
      return 1;
    }
    throw UNREADABLE;
  }

  private static String readOptionalString(Cursor in) {
    return branch(readLong(in)) == 1 ? readString(in) : null;
  }

  private static List<String> readStringArray(Cursor in) {
    long count = readLong(in);
    if (count == 0) {
      return new ArrayList<>(0);
    }
    List<String> items = new ArrayList<>();
    while (count != 0) {
      if (count < 0) {
        count = -count; // Long.MIN_VALUE stays negative: no items, as in fastavro's C loop
        readLong(in); // the block's byte size, unused
      }
      for (long i = 0; i < count; i++) {
        items.add(readString(in)); // every item takes a byte at least: ends at EOF
      }
      count = readLong(in);
    }
    return items;
  }

  private static Boolean readBoolean(Cursor in) {
    if (in.pos >= in.buf.length) {
      throw UNREADABLE;
    }
    return in.buf[in.pos++] != 0 ? Boolean.TRUE : Boolean.FALSE;
  }

  /** fastavro's compiled read_long: unbounded length, 64-bit wrap-around. */
  private static long readLong(Cursor in) {
    final byte[] buf = in.buf;
    int pos = in.pos;
    final int end = buf.length;
    if (pos >= end) {
      throw UNREADABLE;
    }
    int b = buf[pos++];
    long n = b & 0x7F;
    if (b < 0) {
      int shift = 7;
      do {
        if (pos >= end) {
          throw UNREADABLE;
        }
        b = buf[pos++];
        n |= ((long) (b & 0x7F)) << shift; // Java masks the shift to 6 bits, as x86 does
        shift += 7;
      } while (b < 0);
    }
    in.pos = pos;
    return (n >>> 1) ^ -(n & 1);
  }

  private static String readString(Cursor in) {
    long size = readLong(in);
    final byte[] buf = in.buf;
    final int start = in.pos;
    if (size < 0 || size > buf.length - start) {
      throw UNREADABLE;
    }
    final int end = start + (int) size;
    int i = start;
    while (i < end && buf[i] >= 0) {
      i++;
    }
    in.pos = end;
    if (i == end) {
      return new String(buf, start, end - start, StandardCharsets.ISO_8859_1);
    }
    validateUtf8(buf, i, end);
    return new String(buf, start, end - start, StandardCharsets.UTF_8);
  }

  /** Python's strict UTF-8 codec (Unicode Table 3-7, well-formed byte sequences). */
  private static void validateUtf8(byte[] buf, int i, int end) {
    while (i < end) {
      int b0 = buf[i] & 0xFF;
      if (b0 < 0x80) {
        i++;
        continue;
      }
      int need;
      int lo = 0x80;
      int hi = 0xBF;
      if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
      } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) {
          lo = 0xA0;
        } else if (b0 == 0xED) {
          hi = 0x9F;
        }
      } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) {
          lo = 0x90;
        } else if (b0 == 0xF4) {
          hi = 0x8F;
        }
      } else {
        throw UNREADABLE;
      }
      if (end - i <= need) {
        throw UNREADABLE;
      }
      int b1 = buf[i + 1] & 0xFF;
      if (b1 < lo || b1 > hi) {
        throw UNREADABLE;
      }
      for (int k = 2; k <= need; k++) {
        int bk = buf[i + k] & 0xFF;
        if (bk < 0x80 || bk > 0xBF) {
          throw UNREADABLE;
        }
      }
      i += need + 1;
    }
  }
}
