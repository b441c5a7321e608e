package io.advertisex.contract;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON of UTF-8 bytes, accepting exactly what advertisex/contract/impressions.py's
 * {@code decode_impression} accepts (Python's {@code json.loads} of the strictly decoded text,
 * no NaN/Infinity, nesting up to 500, integers up to 4300 digits), and a writer.
 *
 * <p>Values: LinkedHashMap&lt;String,Object&gt; (a repeated key keeps its first position and
 * takes the last value, like a Python dict), ArrayList&lt;Object&gt;, String (escaped lone
 * surrogates stay lone surrogates, an escaped pair is one code point), Long, BigInteger (an
 * integer outside the 64-bit range), Double (a number with a fraction or exponent; past the
 * double range it is Infinity, as Python's float is), Boolean, null.
 *
 * <p>Every failure is the one ContractException("malformed_json"), without a stack trace.
 */
public final class Json {
  /** Deeper arrays and objects are malformed (impressions.py MAX_NESTING). */
  public static final int MAX_NESTING = 500;
  /** Python's int max str digits: a longer integer is malformed. */
  public static final int MAX_INT_DIGITS = 4300;

  private static final ContractException MALFORMED = new ContractException("malformed_json");

  private final byte[] b;
  private final int n;
  private int pos;

  private Json(byte[] b, int from, int to) {
    this.b = b;
    this.pos = from;
    this.n = to;
  }

  /** The JSON object of a whole UTF-8 document; malformed_json for anything else. */
  @SuppressWarnings("unchecked")
  public static LinkedHashMap<String, Object> parseObject(byte[] document) {
    Object value = parse(document, 0, document.length);
    if (value instanceof LinkedHashMap) {
      return (LinkedHashMap<String, Object>) value;
    }
    throw MALFORMED;
  }

  /** The JSON value of a whole UTF-8 document b[from, to). */
  public static Object parse(byte[] b, int from, int to) {
    Json p = new Json(b, from, to);
    p.whitespace();
    Object value = p.value(0);
    p.whitespace();
    if (p.pos != p.n) {
      throw MALFORMED;
    }
    return value;
  }

  private void whitespace() {
    while (pos < n) {
      byte c = b[pos];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return;
      }
      pos++;
    }
  }

  private Object value(int depth) {
    if (pos >= n) {
      throw MALFORMED;
    }
    byte c = b[pos];
    switch (c) {
      case '"':
        pos++;
        return string();
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case 'n':
        literal('n', 'u', 'l', 'l');
        return null;
      case 't':
        literal('t', 'r', 'u', 'e');
        return Boolean.TRUE;
      case 'f':
        if (pos + 4 < n && b[pos + 1] == 'a' && b[pos + 2] == 'l' && b[pos + 3] == 's'
            && b[pos + 4] == 'e') {
          pos += 5;
          return Boolean.FALSE;
        }
        throw MALFORMED;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return number();
        }
        throw MALFORMED;
    }
  }

  private void literal(char c0, char c1, char c2, char c3) {
    if (pos + 3 < n && b[pos] == c0 && b[pos + 1] == c1 && b[pos + 2] == c2 && b[pos + 3] == c3) {
      pos += 4;
      return;
    }
    throw MALFORMED;
  }

  private LinkedHashMap<String, Object> object(int depth) {
    if (depth > MAX_NESTING) {
      throw MALFORMED;
    }
    pos++; // {
    LinkedHashMap<String, Object> map = new LinkedHashMap<>();
    whitespace();
    if (pos < n && b[pos] == '}') {
      pos++;
      return map;
    }
    while (true) {
      if (pos >= n || b[pos] != '"') {
        throw MALFORMED;
      }
      pos++;
      String key = string();
      whitespace();
      if (pos >= n || b[pos] != ':') {
        throw MALFORMED;
      }
      pos++;
      whitespace();
      map.put(key, value(depth));
      whitespace();
      if (pos < n && b[pos] == '}') {
        pos++;
        return map;
      }
      if (pos >= n || b[pos] != ',') {
        throw MALFORMED;
      }
      pos++;
      whitespace();
    }
  }

  private ArrayList<Object> array(int depth) {
    if (depth > MAX_NESTING) {
      throw MALFORMED;
    }
    pos++; // [
    ArrayList<Object> list = new ArrayList<>();
    whitespace();
    if (pos < n && b[pos] == ']') {
      pos++;
      return list;
    }
    while (true) {
      list.add(value(depth));
      whitespace();
      if (pos < n && b[pos] == ']') {
        pos++;
        return list;
      }
      if (pos >= n || b[pos] != ',') {
        throw MALFORMED;
      }
      pos++;
      whitespace();
    }
  }

  // After the opening quote.
  private String string() {
    int start = pos;
    while (pos < n) {
      byte c = b[pos];
      if (c == '"') {
        String s = new String(b, start, pos - start, StandardCharsets.ISO_8859_1);
        pos++;
        return s;
      }
      if (c == '\\' || c < 0x20) { // c < 0: a byte >= 0x80
        return slowString(start);
      }
      pos++;
    }
    throw MALFORMED;
  }

  private String slowString(int start) {
    StringBuilder sb = new StringBuilder(pos - start + 16);
    for (int i = start; i < pos; i++) {
      sb.append((char) b[i]);
    }
    while (pos < n) {
      int c = b[pos] & 0xff;
      if (c == '"') {
        pos++;
        return sb.toString();
      }
      if (c == '\\') {
        escape(sb);
      } else if (c < 0x20) {
        throw MALFORMED;
      } else if (c < 0x80) {
        sb.append((char) c);
        pos++;
      } else {
        int len = PyText.utf8SequenceLength(b, pos, n);
        int cp;
        switch (len) {
          case 2:
            cp = ((c & 0x1f) << 6) | (b[pos + 1] & 0x3f);
            break;
          case 3:
            cp = ((c & 0x0f) << 12) | ((b[pos + 1] & 0x3f) << 6) | (b[pos + 2] & 0x3f);
            break;
          case 4:
            cp =
                ((c & 0x07) << 18)
                    | ((b[pos + 1] & 0x3f) << 12)
                    | ((b[pos + 2] & 0x3f) << 6)
                    | (b[pos + 3] & 0x3f);
            break;
          default:
            throw MALFORMED;
        }
        sb.appendCodePoint(cp);
        pos += len;
      }
    }
    throw MALFORMED;
  }

  private void escape(StringBuilder sb) {
    pos++; // backslash
    if (pos >= n) {
      throw MALFORMED;
    }
    byte e = b[pos++];
    switch (e) {
      case '"':
        sb.append('"');
        return;
      case '\\':
        sb.append('\\');
        return;
      case '/':
        sb.append('/');
        return;
      case 'b':
        sb.append('\b');
        return;
      case 'f':
        sb.append('\f');
        return;
      case 'n':
        sb.append('\n');
        return;
      case 'r':
        sb.append('\r');
        return;
      case 't':
        sb.append('\t');
        return;
      case 'u':
        int unit = hex4(pos);
        pos += 4;
        // A high surrogate followed by an escaped low one is one code point; any other
        // surrogate stays as it is (Python's scanstring).
        if (unit >= 0xd800 && unit <= 0xdbff && pos + 6 <= n && b[pos] == '\\' && b[pos + 1] == 'u') {
          int low = hex4(pos + 2);
          if (low >= 0xdc00 && low <= 0xdfff) {
            pos += 6;
            sb.append((char) unit).append((char) low);
            return;
          }
        }
        sb.append((char) unit);
        return;
      default:
        throw MALFORMED;
    }
  }

  private int hex4(int at) {
    if (at + 4 > n) {
      throw MALFORMED;
    }
    int v = 0;
    for (int i = at; i < at + 4; i++) {
      int c = b[i];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        throw MALFORMED;
      }
      v = (v << 4) | d;
    }
    return v;
  }

  private static boolean isDigit(byte c) {
    return c >= '0' && c <= '9';
  }

  // -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? as Python's scanner reads it.
  private Object number() {
    int start = pos;
    boolean negative = b[pos] == '-';
    if (negative) {
      pos++;
    }
    if (pos >= n) {
      throw MALFORMED;
    }
    byte c = b[pos];
    if (c == '0') {
      pos++;
    } else if (c >= '1' && c <= '9') {
      pos++;
      while (pos < n && isDigit(b[pos])) {
        pos++;
      }
    } else {
      throw MALFORMED;
    }
    int intEnd = pos;
    boolean isFloat = false;
    if (pos + 1 < n && b[pos] == '.' && isDigit(b[pos + 1])) {
      isFloat = true;
      pos += 2;
      while (pos < n && isDigit(b[pos])) {
        pos++;
      }
    }
    if (pos + 1 < n && (b[pos] == 'e' || b[pos] == 'E')) {
      int exponentStart = pos;
      pos++;
      if (pos + 1 < n && (b[pos] == '-' || b[pos] == '+')) {
        pos++;
      }
      while (pos < n && isDigit(b[pos])) {
        pos++;
      }
      if (isDigit(b[pos - 1])) {
        isFloat = true;
      } else {
        pos = exponentStart;
      }
    }
    if (isFloat) {
      return Double.parseDouble(new String(b, start, pos - start, StandardCharsets.ISO_8859_1));
    }
    int first = negative ? start + 1 : start;
    int digits = intEnd - first;
    if (digits <= 18) {
      long v = 0;
      for (int i = first; i < intEnd; i++) {
        v = v * 10 + (b[i] - '0');
      }
      return negative ? -v : v;
    }
    if (digits > MAX_INT_DIGITS) {
      throw MALFORMED;
    }
    BigInteger big = new BigInteger(new String(b, start, intEnd - start, StandardCharsets.ISO_8859_1));
    return big.bitLength() <= 63 ? (Object) big.longValue() : big;
  }

  /**
   * A JSON object from a resource of the jar (the contract's schema files, e.g.
   * {@code schemas/impression.schema.json}); IllegalStateException when it is missing or bad.
   */
  public static LinkedHashMap<String, Object> readResource(String path) {
    try (java.io.InputStream in = Json.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("resource " + path + " is not on the class path");
      }
      return parseObject(in.readAllBytes());
    } catch (java.io.IOException | ContractException e) {
      throw new IllegalStateException("cannot read resource " + path + ": " + e, e);
    }
  }

  // --- writing ---------------------------------------------------------------------------

  /** Compact JSON text of a value (Python's json.loads reads it back to equal values). */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder(256);
    write(value, sb);
    return sb.toString();
  }

  /** Appends the JSON text of a value: Map, List, String, Number, Boolean or null. */
  public static void write(Object value, StringBuilder sb) {
    if (value == null) {
      sb.append("null");
    } else if (value instanceof String) {
      writeString((String) value, sb);
    } else if (value instanceof Map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        writeString(String.valueOf(e.getKey()), sb);
        sb.append(": ");
        write(e.getValue(), sb);
      }
      sb.append('}');
    } else if (value instanceof List) {
      sb.append('[');
      boolean first = true;
      for (Object item : (List<?>) value) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        write(item, sb);
      }
      sb.append(']');
    } else if (value instanceof Boolean) {
      sb.append(((Boolean) value) ? "true" : "false");
    } else if (value instanceof Double || value instanceof Float) {
      writeDouble(((Number) value).doubleValue(), sb);
    } else if (value instanceof Number) {
      sb.append(value.toString());
    } else {
      throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
    }
  }

  private static void writeDouble(double d, StringBuilder sb) {
    if (Double.isNaN(d)) {
      sb.append("NaN");
    } else if (Double.isInfinite(d)) {
      sb.append(d > 0 ? "Infinity" : "-Infinity");
    } else {
      String text = Double.toString(d); // e.g. 12.5, 1.0E-7: JSON numbers
      if (Double.parseDouble(text) != d) {
        text = new BigDecimal(d).toString(); // exact, should Double.toString ever not round-trip
      }
      sb.append(text);
    }
  }

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private static void writeString(String s, StringBuilder sb) {
    sb.append('"');
    int n = s.length();
    int run = 0; // s[run, i) still to be appended as it is
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x20 && c != '"' && c != '\\' && (c < 0xd800 || c > 0xdfff)) {
        continue;
      }
      if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++; // a valid pair: one code point, written as it is
        continue;
      }
      sb.append(s, run, i);
      run = i + 1;
      switch (c) {
        case '"':
          sb.append("\\\"");
          break;
        case '\\':
          sb.append("\\\\");
          break;
        case '\n':
          sb.append("\\n");
          break;
        case '\r':
          sb.append("\\r");
          break;
        case '\t':
          sb.append("\\t");
          break;
        default: // other control characters and lone surrogates
          sb.append("\\u")
              .append(HEX[(c >> 12) & 0xf])
              .append(HEX[(c >> 8) & 0xf])
              .append(HEX[(c >> 4) & 0xf])
              .append(HEX[c & 0xf]);
      }
    }
    sb.append(s, run, n).append('"');
  }
}
