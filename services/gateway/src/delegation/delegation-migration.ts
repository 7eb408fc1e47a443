import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";

/**
 * Delegated credentials' flows under way: one per user and instance, found by a hash of the
 * OAuth state (the state itself is never stored), ended by the callback or by expiry.
 */
class CreateDelegationFlows extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."delegation_flows" (
        "state_hash" char(64) primary key,
        "actor_id" varchar(64) not null,
        "instance_id" uuid not null,
        "client_id" text not null,
        "code_verifier" varchar(128) not null,
        "expire_time" timestamptz not null,
        unique ("actor_id", "instance_id")
      )`);
  }
}

/** Listed after the gateway's other migrations. */
export const delegationMigration: MigrationObject = {
  name: "0005-create-delegation-flows",
  class: CreateDelegationFlows,
};
