import type { Project } from '../../lib/contract.ts'
import type { ClientRunner } from '../terminal/connection.ts'
import { type TerminalControls, TerminalPanel } from '../terminal/terminal-panel.tsx'
import { DemoPlayer } from './demo-player.tsx'

/**
 * The project page's stage in the browser (its own chunk: xterm.js and asciinema-player load
 * only here): the live terminal, with the project's demo recording (or its preview image) in its
 * frame until a session starts, or instead of one when none can start.
 */
export default function LiveStage(props: {
  project: Project
  controls: (controls: TerminalControls) => void
  runner?: ClientRunner | undefined
  autoStart: boolean
  /** Mounted ahead of the Start click, hidden (project-page.tsx); false reveals it. */
  ahead?: boolean
  /** The embedding page's origin (web/src/features/embed), sent with new sessions. */
  embedOrigin?: string | undefined
}) {
  return (
    <TerminalPanel
      project={props.project}
      controls={props.controls}
      initialRunner={props.runner}
      autoStart={props.autoStart}
      ahead={props.ahead}
      embedOrigin={props.embedOrigin}
      poster={
        props.project.demo ? (
          <DemoPlayer
            url={props.project.demo.url}
            title={props.project.title}
            note="A recorded session. Start your own terminal to try it yourself."
          />
        ) : props.project.previewImage ? (
          <img class="poster-image" src={props.project.previewImage.url} alt={`${props.project.title}, running`} />
        ) : undefined
      }
    />
  )
}
