import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function which(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} not found: the OBS tests need Debian's obs-studio, xvfb and xauth (apt-get install obs-studio xvfb xauth)`);
  }
}

export interface ObsProcess {
  /** Everything OBS logged so far (its log goes to stdout too). */
  log(): string;
  exited: Promise<number | null>;
  /** Kills OBS and its X server. */
  stop(): Promise<void>;
}

export interface ObsStreamSettings {
  /** Settings → Stream → Server, e.g. rtmp://127.0.0.1:1935/live */
  server: string;
  /** Settings → Stream → Stream Key */
  streamKey: string;
  /** Output → Reconnect delay in seconds. */
  retryDelaySec?: number;
}

const SCENE_UUID = '6f1c2b7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
const COLOR_UUID = '7a2d3c8f-2b3c-4d4e-9f0a-1b2c3d4e5f60';

/** A fresh OBS configuration: one profile (custom RTMP service, x264) and one scene with a colour source. */
function writeObsConfig(home: string, s: ObsStreamSettings): void {
  const root = join(home, '.config', 'obs-studio');
  const profile = join(root, 'basic', 'profiles', 'livechannel');
  const scenes = join(root, 'basic', 'scenes');
  mkdirSync(profile, { recursive: true });
  mkdirSync(scenes, { recursive: true });
  // FirstRun and LastVersion keep the auto-configuration wizard away
  writeFileSync(
    join(root, 'global.ini'),
    ['[General]', 'FirstRun=true', 'LastVersion=486539266', 'EnableAutoUpdates=false',
      '[Basic]', 'Profile=livechannel', 'ProfileDir=livechannel', 'SceneCollection=livechannel', 'SceneCollectionFile=livechannel', ''].join('\n'),
  );
  writeFileSync(
    join(profile, 'basic.ini'),
    ['[General]', 'Name=livechannel',
      '[Video]', 'BaseCX=640', 'BaseCY=360', 'OutputCX=640', 'OutputCY=360', 'FPSType=0', 'FPSCommon=30',
      '[Output]', 'Mode=Advanced', 'Reconnect=true', `RetryDelay=${s.retryDelaySec ?? 1}`, 'MaxRetries=30',
      '[AdvOut]', 'Encoder=obs_x264', 'TrackIndex=1', 'ApplyServiceSettings=true',
      '[Audio]', 'SampleRate=44100', 'ChannelSetup=Stereo', ''].join('\n'),
  );
  // Advanced output mode reads its stream encoder settings from this file: x264, keyframe every 2 s
  writeFileSync(join(profile, 'streamEncoder.json'), JSON.stringify({ rate_control: 'CBR', bitrate: 800, keyint_sec: 2, preset: 'veryfast', profile: 'main', tune: '' }));
  writeFileSync(join(profile, 'service.json'), JSON.stringify({ type: 'rtmp_custom', settings: { server: s.server, key: s.streamKey, use_auth: false, bwtest: false } }));
  const item = {
    name: 'Colour', source_uuid: COLOR_UUID, visible: true, locked: false, id: 1,
    pos: { x: 0, y: 0 }, rot: 0, scale: { x: 1, y: 1 }, align: 5, bounds_type: 0, bounds_align: 0, bounds: { x: 0, y: 0 },
    crop_left: 0, crop_top: 0, crop_right: 0, crop_bottom: 0,
  };
  writeFileSync(
    join(scenes, 'livechannel.json'),
    JSON.stringify({
      name: 'livechannel',
      current_scene: 'Scene',
      current_program_scene: 'Scene',
      scene_order: [{ name: 'Scene' }],
      sources: [
        { id: 'scene', versioned_id: 'scene', name: 'Scene', uuid: SCENE_UUID, settings: { id_counter: 1, custom_size: false, items: [item] } },
        { id: 'color_source', versioned_id: 'color_source_v3', name: 'Colour', uuid: COLOR_UUID, settings: { color: 0xff2080e0, width: 640, height: 360 } },
      ],
    }),
  );
}

/**
 * Real OBS Studio, headless under xvfb-run with software OpenGL, streaming to `server` with
 * `streamKey` as soon as it starts (`--startstreaming`). Fails loudly when OBS is missing.
 */
export function startObs(settings: ObsStreamSettings): ObsProcess {
  const xvfbRun = which('xvfb-run');
  which('obs');
  which('xauth');
  const home = mkdtempSync(join(tmpdir(), 'lc-obs-'));
  writeObsConfig(home, settings);
  const child = spawn(
    xvfbRun,
    ['-a', '-s', '-screen 0 1280x720x24', 'obs', '--startstreaming', '--multi', '--profile', 'livechannel', '--collection', 'livechannel'],
    {
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), LIBGL_ALWAYS_SOFTWARE: '1', QT_QPA_PLATFORM: 'xcb' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that stop() takes Xvfb down too
    },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    log: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}
