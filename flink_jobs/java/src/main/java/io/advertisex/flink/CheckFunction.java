package io.advertisex.flink;

import io.advertisex.contract.ContractException;
import io.advertisex.contract.Sources;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.inference.TypeStrategies;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

/**
 * Decode, validate, standardize and enrich one raw message of a source: the contract's
 * rules (io.advertisex.contract, the port of advertisex/contract) in the JVM, so the hot
 * path crosses no process boundary.
 *
 * <p>Returns one ROW: {@code reason} (null when the message is valid; the dead-letter path
 * asks the Python reference for the human detail), {@code checked_at_ms} (processing time:
 * the arrival window and the delay are measured from it), then the source's validated
 * fields (ValidatedFields: from the schema files) with the campaign's enrichment last.
 */
public abstract class CheckFunction extends ScalarFunction {
  /** The job parameter that says where the campaign dimension is (CampaignDirectory.open). */
  public static final String CAMPAIGNS_PARAMETER = "adx.campaigns";

  private static final byte[] NO_BYTES = new byte[0];

  private final String source;
  private transient String campaignsSource;
  private transient CampaignDirectory campaigns;
  private transient String[] ruleNames;
  private transient LogicalTypeRoot[] ruleKinds;

  protected CheckFunction(String source) {
    this.source = source;
  }

  @Override
  public void open(FunctionContext context) {
    campaignsSource = context.getJobParameter(CAMPAIGNS_PARAMETER, null);
    if (campaignsSource == null) {
      throw new IllegalStateException(
          "job parameter " + CAMPAIGNS_PARAMETER + " is not set: the pipeline's driver sets "
              + "it (pipeline.global-job-parameters) to where the campaign dimension is");
    }
    campaigns = CampaignDirectory.open(campaignsSource);
    List<String> names = new ArrayList<>();
    List<LogicalTypeRoot> kinds = new ArrayList<>();
    for (Map.Entry<String, DataType> field : ValidatedFields.of(source).entrySet()) {
      if (!ValidatedFields.ENRICHMENT.contains(field.getKey())) {
        names.add(field.getKey());
        kinds.add(field.getValue().getLogicalType().getTypeRoot());
      }
    }
    ruleNames = names.toArray(String[]::new);
    ruleKinds = kinds.toArray(LogicalTypeRoot[]::new);
  }

  @Override
  public void close() {
    if (campaigns != null) {
      CampaignDirectory.release(campaignsSource);
      campaigns = null;
    }
  }

  public RowData eval(byte[] payload) {
    if (payload == null) {
      payload = NO_BYTES; // a message without a value (a tombstone) is an empty payload
    }
    int enrichment = ValidatedFields.ENRICHMENT.size();
    GenericRowData row = new GenericRowData(2 + ruleNames.length + enrichment);
    row.setField(1, System.currentTimeMillis());
    Map<String, Object> record;
    try {
      // Sources.check, reusing the decode adx_event_time made of this message just before.
      record = Sources.standardize(source, DecodedMessages.decode(source, payload));
    } catch (ContractException e) {
      row.setField(0, StringData.fromString(e.reason()));
      return row;
    }
    for (int i = 0; i < ruleNames.length; i++) {
      row.setField(2 + i, internal(record.get(ruleNames[i]), ruleKinds[i]));
    }
    int at = 2 + ruleNames.length;
    CampaignDirectory.Entry campaign = campaigns.lookup((String) record.get("campaign_id"));
    if (campaign != null) {
      row.setField(at, StringData.fromString(campaign.advertiserId()));
      row.setField(at + 1, StringData.fromString(campaign.name()));
      row.setField(at + 2, StringData.fromString(campaign.status()));
      row.setField(at + 3, campaign.dailyBudgetMicros());
    }
    row.setField(at + 4, campaign != null);
    return row;
  }

  /** Flink's internal form of a standardized value. */
  private static Object internal(Object value, LogicalTypeRoot kind) {
    if (value == null) {
      return null;
    }
    switch (kind) {
      case VARCHAR:
        return StringData.fromString((String) value);
      case ARRAY:
        List<?> items = (List<?>) value;
        Object[] strings = new Object[items.size()];
        for (int i = 0; i < strings.length; i++) {
          strings[i] = StringData.fromString((String) items.get(i));
        }
        return new GenericArrayData(strings);
      default:
        return value; // Long, Double, Boolean are their own internal form
    }
  }

  @Override
  public TypeInference getTypeInference(DataTypeFactory typeFactory) {
    List<DataTypes.Field> fields = new ArrayList<>();
    fields.add(DataTypes.FIELD("reason", DataTypes.STRING()));
    fields.add(DataTypes.FIELD("checked_at_ms", DataTypes.BIGINT()));
    ValidatedFields.of(source).forEach((name, type) -> fields.add(DataTypes.FIELD(name, type)));
    DataType row = DataTypes.ROW(fields).bridgedTo(RowData.class);
    return TypeInference.newBuilder()
        .typedArguments(DataTypes.BYTES())
        .outputTypeStrategy(TypeStrategies.explicit(row))
        .build();
  }

  @Override
  public boolean isDeterministic() {
    return false; // checked_at_ms is the time of the call
  }

  /** adx_check_impressions(payload). */
  public static final class Impressions extends CheckFunction {
    public Impressions() {
      super("impressions");
    }
  }

  /** adx_check_clicks_conversions(payload). */
  public static final class ClicksConversions extends CheckFunction {
    public ClicksConversions() {
      super("clicks_conversions");
    }
  }

  /** adx_check_bid_requests(payload). */
  public static final class BidRequests extends CheckFunction {
    public BidRequests() {
      super("bid_requests");
    }
  }
}
