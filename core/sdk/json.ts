/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. Task outputs and run conf are JSON. */
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
