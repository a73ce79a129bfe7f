import { loadConfigFile, schema } from "@ferry/common";

const { array, object, string } = schema;

/**
 * The VMs of one host, as a lab or an operator lists them: where their
 * monitor and agent sockets are. Disks are discovered through QMP.
 */
export const inventoryFileSchema = object({
  vms: array(
    object({
      id: string({ nonEmpty: true, pattern: /^[A-Za-z0-9_-]+$/, hint: "letters, digits, _ and -" }),
      name: string({ nonEmpty: true }),
      qmpSocket: string({ nonEmpty: true }),
      guestAgentSocket: string().optional(),
      tags: array(string()).default([]),
    }),
  ),
});

/** Parsed inventory file. */
export type InventoryFile = schema.Infer<typeof inventoryFileSchema>;
/** One VM entry of an inventory file. */
export type InventoryEntry = InventoryFile["vms"][number];

/** Reads and validates an inventory file. */
export function loadInventoryFile(path: string, signal?: AbortSignal): Promise<InventoryFile> {
  return loadConfigFile(inventoryFileSchema, path, signal);
}
