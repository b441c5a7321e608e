package io.advertisex.flink;

import io.advertisex.contract.ContractException;
import io.advertisex.contract.Sources;
import java.util.Arrays;
import java.util.Map;

/**
 * The last message a thread decoded. The pipeline's head decodes each raw message three
 * times otherwise, one call after the other in the source's task thread: adx_event_time in
 * the source's watermark generator, adx_event_time again in the projection after the source
 * (Flink computes a computed column in both places), and adx_check in that projection.
 * Decoding depends on the source and the bytes alone, so equal bytes get the same record.
 *
 * <p>The record is shared by its callers, which only read it (the contract's rules build new
 * maps). The bytes are kept as a copy: an array the caller reuses cannot match a later
 * message by accident.
 */
final class DecodedMessages {
  private static final ThreadLocal<DecodedMessages> LAST =
      ThreadLocal.withInitial(DecodedMessages::new);

  private String source;
  private byte[] payload;
  private Map<String, Object> record;
  private ContractException failure;

  private DecodedMessages() {}

  /** Sources.decode(source, payload), computed once for a run of the same message. */
  static Map<String, Object> decode(String source, byte[] payload) {
    DecodedMessages last = LAST.get();
    if (!(source.equals(last.source) && Arrays.equals(payload, last.payload))) {
      Map<String, Object> record = null;
      ContractException failure = null;
      try {
        record = Sources.decode(source, payload);
      } catch (ContractException e) {
        failure = e; // no stack trace: the same rejection can be thrown again
      }
      last.source = source;
      last.payload = payload.clone();
      last.record = record;
      last.failure = failure;
    }
    if (last.failure != null) {
      throw last.failure;
    }
    return last.record;
  }
}
