package io.advertisex.contract;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Clicks and conversions on the wire: one RFC 4180 CSV record per message (contract 1.2), a
 * port of advertisex/contract/clicks_csv.py's {@code decode_click_row}.
 */
public final class ClicksCsv {
  private ClicksCsv() {}

  /** The column names, in order, from schemas/clicks_conversions.csv.json. */
  static final String[] COLUMNS = columns();

  private static final ContractException MALFORMED = new ContractException("malformed_csv");

  @SuppressWarnings("unchecked")
  private static String[] columns() {
    List<Object> columns =
        (List<Object>) Json.readResource("schemas/clicks_conversions.csv.json").get("columns");
    String[] names = new String[columns.size()];
    for (int i = 0; i < names.length; i++) {
      names[i] = (String) ((Map<String, Object>) columns.get(i)).get("name");
    }
    return names;
  }

  /** The column names, in order (a fresh array). */
  public static String[] columnNames() {
    return COLUMNS.clone();
  }

  /**
   * Column name -> text ('' when empty) of one record; ContractException("malformed_csv")
   * when the payload is not strictly UTF-8 or not exactly one record of the columns. One
   * trailing line terminator (LF or CRLF) is allowed; any other line break must sit inside a
   * quoted field.
   */
  public static Map<String, Object> decode(byte[] payload) {
    byte[] b = payload;
    int n = b.length;
    boolean ascii = true;
    for (int i = 0; i < n; i++) {
      if (b[i] < 0) {
        if (!PyText.validUtf8(b, i, n)) {
          throw MALFORMED;
        }
        ascii = false;
        break;
      }
    }
    int end = n;
    if (end >= 2 && b[end - 2] == '\r' && b[end - 1] == '\n') {
      end -= 2;
    } else if (end >= 1 && b[end - 1] == '\n') {
      end -= 1;
    }
    String[] fields = new String[COLUMNS.length];
    int count = 0;
    int i = 0;
    while (true) {
      String field;
      if (i < end && b[i] == '"') {
        // Quoted: runs to a quote that is not doubled.
        i++;
        byte[] buf = null;
        int bufLen = 0;
        int start = i;
        while (true) {
          int close = indexOf(b, '"', i, end);
          if (close < 0) {
            throw MALFORMED;
          }
          if (close + 1 < end && b[close + 1] == '"') {
            if (buf == null) {
              buf = new byte[end - start];
            }
            int len = close + 1 - i; // the chunk and one quote
            System.arraycopy(b, i, buf, bufLen, len);
            bufLen += len;
            i = close + 2;
            continue;
          }
          if (buf == null) {
            field = text(b, i, close, ascii);
          } else {
            System.arraycopy(b, i, buf, bufLen, close - i);
            bufLen += close - i;
            field = text(buf, 0, bufLen, ascii);
          }
          i = close + 1;
          break;
        }
        if (i < end && b[i] != ',') {
          throw MALFORMED; // a line break (more than one record) or anything else
        }
      } else {
        int stop = i;
        while (stop < end && b[stop] != ',') {
          byte c = b[stop];
          if (c == '"' || c == '\r' || c == '\n') {
            throw MALFORMED;
          }
          stop++;
        }
        field = text(b, i, stop, ascii);
        i = stop;
      }
      if (count == fields.length) {
        throw MALFORMED;
      }
      fields[count++] = field;
      if (i >= end) {
        break;
      }
      i++; // past the comma; a trailing comma leaves one more (empty) field
      if (i == end) {
        if (count == fields.length) {
          throw MALFORMED;
        }
        fields[count++] = "";
        break;
      }
    }
    if (count != fields.length) {
      throw MALFORMED;
    }
    LinkedHashMap<String, Object> row = new LinkedHashMap<>(16);
    for (int k = 0; k < fields.length; k++) {
      row.put(COLUMNS[k], fields[k]);
    }
    return row;
  }

  private static int indexOf(byte[] b, char c, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] == c) {
        return i;
      }
    }
    return -1;
  }

  private static String text(byte[] b, int from, int to, boolean ascii) {
    if (from == to) {
      return "";
    }
    // Valid UTF-8 as a whole, cut at ASCII bytes only: every slice is valid too.
    return new String(b, from, to - from, ascii ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
  }
}
