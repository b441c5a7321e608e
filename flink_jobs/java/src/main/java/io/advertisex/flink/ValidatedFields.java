package io.advertisex.flink;

import io.advertisex.contract.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.types.DataType;

/**
 * What checking one source's message yields, read from the output schema files packaged in
 * the jar: the fields the contract's rules set (no "x-set-by"), then the campaign
 * enrichment's. The port of flink_jobs/schema_types.py's validated_fields: validate.sql reads
 * the check's fields by the names Python derives, so every pipeline test plans against it.
 */
public final class ValidatedFields {
  /** The enrichment columns, in schema order (the impressions output names them). */
  public static final List<String> ENRICHMENT = enrichment();

  private ValidatedFields() {}

  /** (name, type) of the fields a source's check sets, enrichment last. */
  public static LinkedHashMap<String, DataType> of(String source) {
    LinkedHashMap<String, DataType> fields = new LinkedHashMap<>();
    if (source.equals("clicks_conversions")) {
      fields.putAll(ruleFields("clicks"));
      ruleFields("conversions").forEach(fields::putIfAbsent);
    } else {
      fields.putAll(ruleFields(source));
    }
    Map<String, Object> props = properties("impressions");
    for (String name : ENRICHMENT) {
      fields.put(name, type(asMap(props.get(name))));
    }
    return fields;
  }

  private static LinkedHashMap<String, DataType> ruleFields(String output) {
    LinkedHashMap<String, DataType> fields = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : properties(output).entrySet()) {
      Map<String, Object> spec = asMap(e.getValue());
      if (!spec.containsKey("x-set-by")) {
        fields.put(e.getKey(), type(spec));
      }
    }
    return fields;
  }

  private static List<String> enrichment() {
    List<String> names = new ArrayList<>();
    for (Map.Entry<String, Object> e : properties("impressions").entrySet()) {
      if ("enrichment".equals(asMap(e.getValue()).get("x-set-by"))) {
        names.add(e.getKey());
      }
    }
    return List.copyOf(names);
  }

  private static Map<String, Object> properties(String output) {
    return asMap(Json.readResource("schemas/outputs/" + output + ".schema.json").get("properties"));
  }

  /** The Flink type of a JSON Schema property, as schema_types._type maps it. */
  private static DataType type(Map<String, Object> spec) {
    Object declared = spec.get("type");
    String kind = null;
    if (declared instanceof List<?> kinds) {
      for (Object k : kinds) {
        if (!"null".equals(k)) {
          kind = (String) k;
          break;
        }
      }
    } else {
      kind = (String) declared;
    }
    switch (kind) {
      case "array":
        return DataTypes.ARRAY(type(asMap(spec.get("items"))));
      case "string":
        return DataTypes.STRING();
      case "integer":
        return DataTypes.BIGINT();
      case "number":
        return DataTypes.DOUBLE();
      case "boolean":
        return DataTypes.BOOLEAN();
      default:
        throw new IllegalArgumentException("no Flink type for a schema field of type " + kind);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> asMap(Object value) {
    return (Map<String, Object>) value;
  }
}
