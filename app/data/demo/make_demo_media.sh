#!/usr/bin/env bash
# Regenerate the synthetic demo videos and posters referenced by manifest.json.
#
# NOTE: the generated files (*/hd-1080p25.mp4, */sd-576p25.mp4,
# */preview-360p.mp4, */poster.jpg) are committed alongside manifest.json.
# This script is NOT run by the application or the importer; it exists only
# so the files can be regenerated, e.g. after a story title changes.
#
# Every clip is an 8-second synthetic test pattern (no real footage) with the
# story title, location/date and a running timecode burnt in, plus a sine tone.
# Output: H.264 (High, yuv420p, 25 fps, GOP 2 s) + AAC mono, MP4 with
# +faststart so browsers can start playback and seek before the full download.
#
# Requirements: bash, python3, ffmpeg/ffprobe with libx264 and drawtext
# (libfreetype), and the DejaVu fonts (Debian: apt-get install fonts-dejavu-core).
#
# Usage: app/data/demo/make_demo_media.sh            (all stories)
#        app/data/demo/make_demo_media.sh SLUG...    (only these stories)
set -euo pipefail
cd "$(dirname "$0")"

FONT_BOLD=${FONT_BOLD:-/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf}
FONT_REG=${FONT_REG:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
DUR=8            # seconds; 200 frames at 25 fps
POSTER_AT=2.5    # seconds into the HD rendition
POSTER_MAX=30000 # bytes; poster JPEG quality is lowered until it fits

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Per-story look: a lavfi video source (scaled to 1920x1080 afterwards) and
# the frequency of the sine tone, so every story is visually and audibly distinct.
pattern() {
  case "$1" in
    foreign-ministers-meet-in-antalya)
      echo "smptehdbars=s=1920x1080:r=25,hue=h=8*t" 440 ;;
    allied-leaders-meet-at-the-hague-summit)
      echo "gradients=s=1920x1080:r=25:c0=0xff6a00:c1=0x0b1f4d:c2=0xffb347:c3=0x1d4e89:nb_colors=4:speed=0.02:seed=7" 523.25 ;;
    defence-ministers-meet-in-brussels)
      echo "testsrc=s=1920x1080:r=25" 587.33 ;;
    cyber-coalition-exercise-in-tallinn)
      echo "cellauto=s=240x135:r=5:rule=90:pattern=1,colorchannelmixer=rr=0.1:gg=0.9:bb=0.35,fps=25" 659.25 ;;
    baltic-air-policing-scramble)
      # a single (softened) Mandelbrot frame held still: an animated zoom is far
      # too detailed to survive the low demo bitrates
      echo "mandelbrot=s=640x360:r=25:start_scale=3:start_x=-0.6:start_y=0,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB,gblur=sigma=1.5,scale=1920:1080:flags=bicubic" 698.46 ;;
    secretary-general-previews-washington-summit)
      echo "colorchart=r=25,format=yuv444p,hue=h=20*t" 783.99 ;;
    allied-ships-train-in-the-baltic-sea)
      echo "life=s=192x108:r=5:ratio=0.08:seed=1949:life_color=0x8ecae6:death_color=0x0b2545,fps=25" 880 ;;
    *) echo "testsrc2=s=1920x1080:r=25" 440 ;;
  esac
}

# slug, title, "location · date" and a title font size that keeps the title
# inside 1920 px (DejaVu Sans Bold averages roughly 0.64 em per character).
python3 -c '
import json, sys
wanted = set(sys.argv[1:])
for s in json.load(open("manifest.json", encoding="utf-8"))["stories"]:
    if wanted and s["slug"] not in wanted:
        continue
    size = min(76, int(1760 / (0.64 * len(s["title"]))))
    print("\t".join([s["slug"], s["title"], s["location"] + "  ·  " + s["published"], str(size)]))
' "$@" > "$tmp/stories.tsv"

while IFS=$'\t' read -r slug title subtitle fsize; do
  read -r src freq < <(pattern "$slug")
  echo ">> $slug  ($freq Hz)"
  mkdir -p "$slug"
  # Text goes through files so titles never need filtergraph escaping.
  printf '%s' "$title"    > "$tmp/title.txt"
  printf '%s' "$subtitle" > "$tmp/subtitle.txt"
  printf '%s' "DEMO CLIP - synthetic test footage" > "$tmp/label.txt"

  vf="[0:v]scale=1920:1080:flags=neighbor,setsar=1,format=yuv420p,"
  vf+="drawbox=x=0:y=ih*0.63:w=iw:h=ih*0.25:color=black@0.65:t=fill,"
  vf+="drawtext=fontfile=$FONT_BOLD:textfile=$tmp/title.txt:expansion=none:fontsize=$fsize:fontcolor=white:x=(w-text_w)/2:y=h*0.67,"
  vf+="drawtext=fontfile=$FONT_REG:textfile=$tmp/subtitle.txt:expansion=none:fontsize=42:fontcolor=white@0.9:x=(w-text_w)/2:y=h*0.79,"
  vf+="drawtext=fontfile=$FONT_REG:textfile=$tmp/label.txt:expansion=none:fontsize=30:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=10:x=40:y=40,"
  vf+="drawtext=fontfile=$FONT_REG:timecode='00\:00\:00\:00':rate=25:fontsize=36:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=10:x=w-text_w-40:y=40,"
  vf+="split=3[hd][sd0][pv0];[sd0]scale=1024:576:flags=bicubic[sd];[pv0]scale=640:360:flags=bicubic[pv];"
  vf+="[1:a]volume=0.3,asplit=3[a1][a2][a3]"

  common=(-c:v libx264 -profile:v high -preset veryfast -pix_fmt yuv420p -r 25 -g 50
          -c:a aac -ac 1 -ar 48000 -movflags +faststart -t "$DUR" -metadata "title=$title")

  ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "$src" \
    -f lavfi -i "sine=frequency=$freq:sample_rate=48000:duration=$DUR" \
    -filter_complex "$vf" \
    -map "[hd]" -map "[a1]" "${common[@]}" -crf 32 -maxrate 220k -bufsize 440k -b:a 32k "$slug/hd-1080p25.mp4" \
    -map "[sd]" -map "[a2]" "${common[@]}" -crf 32 -maxrate 110k -bufsize 220k -b:a 32k "$slug/sd-576p25.mp4" \
    -map "[pv]" -map "[a3]" "${common[@]}" -crf 32 -maxrate 55k  -bufsize 110k -b:a 24k "$slug/preview-360p.mp4"

  # Poster: 640x360 JPEG from the HD rendition, best quality that fits POSTER_MAX.
  for q in 2 3 4 5 6 7 8 10 12 15 20 25 31; do
    ffmpeg -nostdin -hide_banner -loglevel error -y -ss "$POSTER_AT" -i "$slug/hd-1080p25.mp4" \
      -frames:v 1 -vf scale=640:360:flags=bicubic -q:v "$q" "$slug/poster.jpg"
    [ "$(stat -c %s "$slug/poster.jpg")" -le "$POSTER_MAX" ] && break
  done

  for f in "$slug"/*.mp4; do
    printf '   %-40s %8s bytes  %ss\n' "$f" "$(stat -c %s "$f")" \
      "$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")"
  done
  printf '   %-40s %8s bytes  (q=%s)\n' "$slug/poster.jpg" "$(stat -c %s "$slug/poster.jpg")" "$q"
done < "$tmp/stories.tsv"

du -sb .
