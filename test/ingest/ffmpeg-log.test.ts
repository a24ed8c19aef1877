// ffmpeg's stderr and its ending, read without running ffmpeg: the line parser and the failure classifier.
import { describe, expect, it } from 'vitest';
import { classifyEnd, FfmpegLog, type DecodeEnd } from '../../src/ingest/ffmpeg-log.js';

describe('FfmpegLog', () => {
  it('reads the output size after "Output #0", one pts per showinfo line, the tail and damage; lines split across chunks', () => {
    const log = new FfmpegLog();
    log.push(
      'Input #0, mov,mp4 from clip.mp4:\n  Stream #0:0(und): Video: h264, yuv420p, 1920x1080\nOutput #0, rawvideo, to pipe:\n  Stream #0:0: Video: rawvideo (RGB[24]), rgb24(pc), 640x4',
    );
    expect(log.headerSeen).toBe(false); // the line is not complete yet
    log.push(
      '80, q=2-31\n[Parsed_showinfo_1 @ 0x1] n:   0 pts:      0 pts_time:0       duration:512\n[Parsed_showinfo_1 @ 0x1] n:   1 pts:    512 pts_time:0.04 \r',
    );
    log.push('[h264 @ 0x2] error while decoding MB 3 4\n');
    expect([log.headerSeen, log.width, log.height]).toEqual([true, 640, 480]);
    expect(log.pts).toEqual([0, 40]);
    expect(log.damage).toEqual(['[h264 @ 0x2] error while decoding MB 3 4']);
    expect(log.tail.at(-1)).toBe('[h264 @ 0x2] error while decoding MB 3 4');
    expect(log.tail.some((l) => /showinfo/.test(l))).toBe(false);
    for (let i = 0; i < 30; i++) log.line(`line ${i}`);
    expect(log.tail).toHaveLength(20);
  });
});

describe('classifyEnd', () => {
  const base: DecodeEnd = {
    input: 'clip.mp4',
    live: false,
    code: 0,
    signal: null,
    frames: 10,
    leftover: 0,
    frameBytes: 100,
    tail: ['frame=10'],
    damage: [],
  };
  const cases: Array<[string, Partial<DecodeEnd>, string | undefined, RegExp | undefined]> = [
    ['a clean end', {}, undefined, undefined],
    ['a live source that ended with no frames', { live: true, frames: 0 }, undefined, undefined],
    [
      'not a video (low-score probe)',
      {
        code: 1,
        frames: 0,
        tail: ['x: Format mp3 detected only with low score of 1', 'x: Invalid data found when processing input'],
      },
      'NOT_VIDEO',
      /cannot decode clip\.mp4: x: Invalid data found/,
    ],
    [
      'not a video even with a missing index after a low-score probe',
      { code: 1, frames: 0, tail: ['detected only with low score of 25', 'moov atom not found'] },
      'NOT_VIDEO',
      /cannot decode/,
    ],
    [
      'a truncated mp4 (no index)',
      { code: 1, frames: 0, tail: ['[mov] moov atom not found', 'clip.mp4: Invalid data found when processing input'] },
      'CORRUPT_VIDEO',
      /truncated or incomplete \(no index found\)/,
    ],
    [
      'ffmpeg failing mid-way names the error line, not "Conversion failed"',
      { code: 1, frames: 7, tail: ['Error while decoding stream #0:0: Invalid data', 'Conversion failed!'] },
      'CORRUPT_VIDEO',
      /failed on clip\.mp4 after 7 frame\(s\) \(exit 1\): Error while decoding stream/,
    ],
    ['killed by a signal', { code: null, signal: 'SIGSEGV', frames: 3 }, 'CORRUPT_VIDEO', /\(exit SIGSEGV\)/],
    [
      'stdin that cannot seek gets its own fix',
      { input: '-', code: 1, frames: 0, tail: ['moov atom not found'] },
      'CORRUPT_VIDEO',
      /stdin cannot seek/,
    ],
    ['a frame cut short', { leftover: 40 }, 'CORRUPT_VIDEO', /ended inside frame 10 \(40 of 100 bytes\)/],
    [
      'no frames from a file',
      { frames: 0, tail: ['Output file is empty'] },
      'NOT_VIDEO',
      /decoded to no frames: Output file is empty/,
    ],
    [
      'damage reported for a file',
      { damage: ['[h264] error while decoding MB 1 2'] },
      'CORRUPT_VIDEO',
      /damaged after frame 9: \[h264\] error while decoding/,
    ],
    [
      'damage reported for a live feed is tolerated',
      { live: true, damage: ['[h264] error while decoding MB 1 2'] },
      undefined,
      undefined,
    ],
  ];
  it.each(cases)('%s', (_name, change, code, message) => {
    const e = classifyEnd({ ...base, ...change });
    expect(e?.code).toBe(code);
    if (message) expect(e!.message).toMatch(message);
  });
});
