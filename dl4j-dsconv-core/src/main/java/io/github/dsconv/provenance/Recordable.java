package io.github.dsconv.provenance;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A value that provenance records in its JSON form, such as the conversion plan a packed file's manifest keeps.
 * It lets a lower layer (the packed format) record a higher layer's object without depending on its package.
 */
public interface Recordable {

    /** The JSON form recorded. */
    JsonNode toJson();
}
