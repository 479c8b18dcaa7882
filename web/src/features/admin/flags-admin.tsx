import { createSignal } from 'solid-js'
import type { Flag } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { AdminTable, createStatus, Loaded, StatusMessage } from './admin-ui.tsx'
import { createFlags, putFlag } from './queries.ts'

/** Feature flags: on/off, rollout percentage and kill switch, saved one flag at a time. */
export default function FlagsAdmin() {
  const [flags, { refetch, mutate }] = createFlags()
  const [message, setMessage] = createStatus()
  const [busy, setBusy] = createSignal<string>()

  const save = async (flag: Flag, changes: Partial<Pick<Flag, 'enabled' | 'rolloutPercent' | 'killSwitch'>>) => {
    setBusy(flag.key)
    setMessage(undefined)
    try {
      const saved = await putFlag(flag.key, changes)
      mutate((list) => (list ?? []).map((f) => (f.key === saved.key ? saved : f)))
      setMessage({ ok: true, text: `Saved ${flag.key}.` })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
    } finally {
      setBusy(undefined)
    }
  }

  return (
    <section aria-labelledby="flags-title">
      <h1 id="flags-title">Feature flags</h1>
      <StatusMessage status={message()} />
      <Loaded resource={flags} loading="Loading flags…" retry={refetch}>
        <AdminTable columns={['Flag', 'On', 'Rollout', 'Kill switch']} each={flags()} empty="No flags.">
          {(f) => {
            const id = f.key.replace(/[^a-z0-9]+/gi, '-')
            return (
              <tr>
                <td>
                  <code>{f.key}</code>
                  <br />
                  <span class="muted small">{f.description}</span>
                </td>
                <td>
                  <input
                    id={`flag-${id}-on`}
                    type="checkbox"
                    checked={f.enabled}
                    disabled={busy() === f.key}
                    aria-label={`${f.key} enabled`}
                    onChange={(e) => void save(f, { enabled: e.currentTarget.checked })}
                  />
                </td>
                <td>
                  <form
                    class="row-actions"
                    onSubmit={(e) => {
                      e.preventDefault()
                      const value = Number(new FormData(e.currentTarget).get('percent'))
                      void save(f, { rolloutPercent: Math.max(0, Math.min(100, Math.round(value))) })
                    }}
                  >
                    <input
                      name="percent"
                      type="number"
                      min="0"
                      max="100"
                      step="1"
                      value={f.rolloutPercent}
                      aria-label={`${f.key} rollout percent`}
                      style={{ width: '5.5rem' }}
                    />
                    <button type="submit" class="button" disabled={busy() === f.key}>
                      Set %
                    </button>
                  </form>
                </td>
                <td>
                  <input
                    type="checkbox"
                    checked={f.killSwitch}
                    disabled={busy() === f.key}
                    aria-label={`${f.key} kill switch (forces off)`}
                    onChange={(e) => void save(f, { killSwitch: e.currentTarget.checked })}
                  />
                </td>
              </tr>
            )
          }}
        </AdminTable>
      </Loaded>
    </section>
  )
}
