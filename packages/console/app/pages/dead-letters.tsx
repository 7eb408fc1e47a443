import type { DeadLetter } from "@berth/sdk";
import { Button, Heading, Table, Text } from "@radix-ui/themes";
import { useCallback, useEffect, useState } from "react";
import { useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";

/** Events a consumer refused, with a replay (admin keys). */
export function DeadLettersPage() {
  const { client } = useSession();
  const [letters, setLetters] = useState<DeadLetter[]>();
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string>();
  const load = useCallback(async () => {
    try {
      setLetters((await client.deadLetters.listDeadLetters({ pageSize: 100 })).deadLetters);
    } catch (err) {
      setError(err);
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  const replay = async (letter: DeadLetter) => {
    try {
      await client.deadLetters.replayDeadLetter({ id: letter.id });
      setNote(`Replayed ${letter.eventType} ${letter.eventId}.`);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <Heading as="h2" size="6" mb="3">
        Dead letters
      </Heading>
      <ErrorCallout error={error} />
      {note && (
        <Text as="p" role="status" mb="2">
          {note}
        </Text>
      )}
      {letters?.length === 0 && <Text as="p">No dead letters: every event was handled.</Text>}
      {letters && letters.length > 0 && (
        <div className="table-scroll">
          <Table.Root variant="surface">
            <caption className="visually-hidden">Dead letters</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Event</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Consumer</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Reason</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>
                  <span className="visually-hidden">Actions</span>
                </Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {letters.map((letter) => (
                <Table.Row key={letter.id}>
                  <Table.RowHeaderCell>{letter.eventType}</Table.RowHeaderCell>
                  <Table.Cell>
                    {letter.service}/{letter.consumer}
                  </Table.Cell>
                  <Table.Cell>{letter.reason}</Table.Cell>
                  <Table.Cell>
                    <Button size="1" variant="soft" onClick={() => void replay(letter)}>
                      Replay
                    </Button>
                  </Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>
        </div>
      )}
    </>
  );
}
