package io.advertisex.contract;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * A command-line harness for comparing this port with the Python reference: reads lines
 * {@code source<TAB>base64(payload)} from stdin and writes one line per input line:
 * {@code {"event_time_ms": <long or null>, "reason": <string or null>, "record": <object or null>}}
 * (event_time_ms as event_time.py's event_time_ms, reason and record as its check).
 *
 * <p>Run: {@code java -cp target/advertisex-flink-functions.jar io.advertisex.contract.Harness}
 */
public final class Harness {
  private Harness() {}

  public static void main(String[] args) throws IOException {
    InputStream in = System.in;
    OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
    Base64.Decoder base64 = Base64.getDecoder();
    StringBuilder sb = new StringBuilder(1 << 16);
    byte[] buf = new byte[1 << 16];
    int start = 0; // the current line starts here
    int len = 0; // bytes held in buf
    int scan = 0; // no newline in buf[start, scan)
    boolean eof = false;
    while (true) {
      int nl = -1;
      for (int i = scan; i < len; i++) {
        if (buf[i] == '\n') {
          nl = i;
          break;
        }
      }
      if (nl >= 0) {
        handle(buf, start, nl, base64, sb, out);
        start = nl + 1;
        scan = start;
        continue;
      }
      if (eof) {
        if (len > start) {
          handle(buf, start, len, base64, sb, out);
        }
        break;
      }
      if (start > 0) {
        System.arraycopy(buf, start, buf, 0, len - start);
        len -= start;
        start = 0;
      }
      scan = len;
      if (len == buf.length) {
        buf = java.util.Arrays.copyOf(buf, buf.length * 2);
      }
      int read = in.read(buf, len, buf.length - len);
      if (read < 0) {
        eof = true;
      } else {
        len += read;
      }
    }
    out.flush();
  }

  private static void handle(
      byte[] buf, int from, int to, Base64.Decoder base64, StringBuilder sb, OutputStream out)
      throws IOException {
    if (to > from && buf[to - 1] == '\r') {
      to--;
    }
    if (to == from) {
      return; // a blank line
    }
    int tab = from;
    while (tab < to && buf[tab] != '\t') {
      tab++;
    }
    String source = new String(buf, from, tab - from, StandardCharsets.ISO_8859_1);
    byte[] encoded = java.util.Arrays.copyOfRange(buf, Math.min(tab + 1, to), to);
    byte[] payload = base64.decode(encoded);
    long eventTime = -1;
    String reason = null;
    Map<String, Object> record = null;
    try {
      Map<String, Object> raw = Sources.decode(source, payload);
      eventTime = Sources.eventTimeMs(raw);
      record = Sources.standardize(source, raw);
    } catch (ContractException e) {
      reason = e.reason();
    } catch (RuntimeException e) {
      // not a contract outcome (the Python reference raises something else too, or a bug)
      reason = "!exception:" + e.getClass().getName();
      record = null;
    }
    sb.setLength(0);
    sb.append("{\"event_time_ms\": ");
    if (eventTime < 0) {
      sb.append("null");
    } else {
      sb.append(eventTime);
    }
    sb.append(", \"reason\": ");
    Json.write(reason, sb);
    sb.append(", \"record\": ");
    Json.write(record, sb);
    sb.append("}\n");
    out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
  }
}
