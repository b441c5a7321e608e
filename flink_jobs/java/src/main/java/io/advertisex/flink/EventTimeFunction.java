package io.advertisex.flink;

import io.advertisex.contract.ContractException;
import io.advertisex.contract.Sources;
import java.time.Instant;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * adx_event_time(source, payload): a raw message's rowtime, its record's own event_time
 * (contract 2.5), for a source table's computed column with the WATERMARK on it, so the
 * watermark is generated from the payload per partition inside the source.
 *
 * <p>A message whose time cannot be read gets UNREADABLE, the start of epoch time: below
 * every watermark, it neither holds one back nor moves one forward, and validation makes it
 * a dead letter (advertisex/contract/event_time.py is the reference).
 */
public final class EventTimeFunction extends ScalarFunction {
  public static final Instant UNREADABLE = Instant.EPOCH;

  public @DataTypeHint("TIMESTAMP_LTZ(3)") Instant eval(String source, byte[] payload) {
    long ms = payload == null ? -1 : eventTimeMs(source, payload);
    return ms < 0 ? UNREADABLE : Instant.ofEpochMilli(ms);
  }

  /** Sources.eventTimeMs(source, payload), on the thread's last decoded message if it is this. */
  private static long eventTimeMs(String source, byte[] payload) {
    try {
      return Sources.eventTimeMs(DecodedMessages.decode(source, payload));
    } catch (ContractException e) {
      return -1;
    }
  }
}
